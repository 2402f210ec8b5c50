// The policy scripts' process-wide settings, and the scripting Engine of the
// calling thread.
//
// An Engine (one mruby VM) must never be shared between threads, and each
// of the manager's event-loop threads runs handlers: ThisThreadEngine gives
// every thread its own Engine, made on first use with this Runtime's
// options (where errors are logged, the shared store). A Runtime lives as
// long as the process (it survives configuration reloads, so compiled
// scripts stay cached); a thread that later calls another Runtime gets a
// new Engine for that one.
//
// Thread-safe.

#ifndef MANAGER_SCRIPT_RUNTIME_H_
#define MANAGER_SCRIPT_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "manager/script/engine.h"

namespace milter::manager::script {

class Runtime {
 public:
  explicit Runtime(Engine::Options options);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // The calling thread's Engine for this Runtime.
  Engine& ThisThreadEngine();

 private:
  Engine::Options options_;
  uint64_t id_;  // distinguishes Runtimes even at a reused address
};

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_RUNTIME_H_
