// Runtime: one Engine per thread and Runtime.

#include "manager/script/runtime.h"

#include <atomic>
#include <utility>

namespace milter::manager::script {
namespace {

std::atomic<uint64_t> next_runtime_id{1};

struct ThreadEngine {
  uint64_t runtime_id = 0;
  std::unique_ptr<Engine> engine;
};

thread_local ThreadEngine this_thread_engine;

}  // namespace

Runtime::Runtime(Engine::Options options)
    : options_(std::move(options)), id_(next_runtime_id.fetch_add(1)) {}

Engine& Runtime::ThisThreadEngine() {
  ThreadEngine& t = this_thread_engine;
  if (t.engine == nullptr || t.runtime_id != id_) {
    t.engine.reset();
    t.engine = std::make_unique<Engine>(options_);
    t.runtime_id = id_;
  }
  return *t.engine;
}

}  // namespace milter::manager::script
