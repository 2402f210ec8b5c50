// The manager's Ruby scripting engine: one mruby VM that loads policy scripts
// (one file per purpose, e.g. a milter stage), keeps them compiled, and calls
// a named handler method in them with a context object the caller provides.
// The handler's return value becomes a small C++ Value (nil, true/false,
// Integer, Symbol, String); anything going wrong gives the caller's fallback.
//
// Contract:
//   * One Engine per thread. It is not thread-safe and binds itself to the
//     first thread that calls it: a call from another thread is refused with
//     the fallback (never run on a shared VM).
//   * Each file is compiled once, into its own anonymous class: top-level
//     `def`s become that file's handlers, top-level code runs once per load
//     with self being the file's instance (so instance variables last across
//     calls until the file changes). Files never see each other's methods.
//   * Files are re-stat()ed at most once per `recheck` (default 1 s): a file
//     whose mtime, size or inode changed is recompiled and replaces the old
//     code for the next call. A file that fails to compile (or whose top-level
//     code raises) keeps the previous code, and the error is reported once
//     per change as "FILE:LINE: message".
//   * Every run of Ruby code (a handler call, a file's top-level code) has a
//     time limit. Past it, a code-fetch hook of the VM (mruby built with
//     MRB_USE_DEBUG_HOOK) raises ScriptTimeout, which derives from Exception,
//     not StandardError, and is raised again at every instruction until the
//     VM is back in the engine: `rescue`/`ensure` cannot keep the script
//     alive. When Call returns, no Ruby code runs on this VM any more.
//     Limit: time spent inside one C method (e.g. a huge String#*) is not
//     interruptible; the hook acts at the next VM instruction.
//   * A Ruby exception, timeout, missing handler or unsupported return type
//     gives the fallback and a log line "script FILE:LINE: Class: message".
//   * The context object is valid only during the call: a script that keeps
//     it gets nil from it afterwards, never a dangling pointer.
//   * Ruby code gets the classes of mruby's standard gems (no IO, sockets or
//     sleep) and Regexp/MatchData on RE2 (manager/script/regexp.h).

#ifndef MANAGER_SCRIPT_ENGINE_H_
#define MANAGER_SCRIPT_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

struct mrb_state;
struct RClass;
struct RObject;
struct RData;

namespace milter::manager::script {

// A handler's result, mapped from the Ruby value it returned.
struct Value {
  enum class Kind { kNil, kFalse, kTrue, kInteger, kSymbol, kString };
  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string text;  // kSymbol: the name without ':'; kString: the bytes

  static Value Nil() { return {}; }
  static Value Bool(bool b) { return {b ? Kind::kTrue : Kind::kFalse, 0, ""}; }
  static Value Integer(int64_t i) { return {Kind::kInteger, i, ""}; }
  static Value Symbol(std::string s) {
    return {Kind::kSymbol, 0, std::move(s)};
  }
  static Value String(std::string s) {
    return {Kind::kString, 0, std::move(s)};
  }
  // For logs and tests: nil, true, false, 42, :accept, "text".
  std::string DebugString() const;
  bool operator==(const Value&) const = default;
};

// What a script reads through its context argument: `ctx[name]` (nil when
// absent) and `ctx.key?(name)`. Implemented by the caller; Get is called on
// the engine's thread during the call only.
class Context {
 public:
  virtual ~Context() = default;
  virtual std::optional<std::string_view> Get(std::string_view name) const = 0;
};

// A Context over a plain map, for tests and simple callers.
class MapContext : public Context {
 public:
  MapContext() = default;
  explicit MapContext(absl::flat_hash_map<std::string, std::string> values)
      : values_(std::move(values)) {}
  void Set(std::string name, std::string value) {
    values_[std::move(name)] = std::move(value);
  }
  std::optional<std::string_view> Get(std::string_view name) const override;

 private:
  absl::flat_hash_map<std::string, std::string> values_;
};

class Engine {
 public:
  struct Options {
    // Longest a handler call (or a file's top-level code) may run.
    // absl::InfiniteDuration() installs no hook (no limit; benchmarks only).
    absl::Duration time_limit = absl::Milliseconds(100);
    // How often a cached file is re-stat()ed for changes.
    absl::Duration recheck = absl::Seconds(1);
    // Receives each error line ("script FILE:LINE: ..."); default: stderr.
    std::function<void(std::string_view)> log;
  };

  // How a call went: the value (the fallback when `error` is not OK).
  struct Outcome {
    Value value;
    absl::Status error;  // DeadlineExceeded for a timeout
  };

  Engine();
  explicit Engine(Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Compiles `path` now if it is not cached (or changed), running its
  // top-level code. Returns the error "FILE:LINE: message" if it does not
  // compile or raises; the previously loaded code, if any, stays.
  absl::Status Load(const std::string& path);

  // Calls method `handler` of script `path` with the context as its one
  // argument, loading the file when needed (or when it changed).
  Outcome Call(const std::string& path, std::string_view handler,
               const Context& context, const Value& fallback);

  // True while Ruby code runs on this VM (only ever inside Load/Call).
  bool running() const { return running_; }
  // Depth of the VM's call stack now; 0 when no Ruby code is on it.
  int vm_depth() const;
  // How many times a file was (re)compiled successfully; for tests.
  int64_t compiles() const { return compiles_; }

  // The VM, for installing extra classes before the first Load/Call.
  mrb_state* vm() { return mrb_; }

 private:
  struct Script;
  Script* Fresh(const std::string& path, absl::Status* error);
  absl::Status Compile(const std::string& path, Script* script);
  void Report(const absl::Status& status);
  void ArmDeadline();
  bool BindThread();
  // "FILE:LINE: Class: message" for a raised exception.
  std::string Describe(RObject* exc, const std::string& path);
  friend struct EngineAccess;

  Options options_;
  mrb_state* mrb_ = nullptr;
  RClass* timeout_class_ = nullptr;
  RObject* timeout_exception_ = nullptr;  // raised by the hook; GC-registered
  RData* context_object_ = nullptr;       // reused per call; GC-registered
  absl::flat_hash_map<std::string, std::unique_ptr<Script>> scripts_;
  std::thread::id owner_;
  bool running_ = false;
  // Deadline check: the hook counts instructions down and reads the clock
  // every kCheckEvery of them; once expired it raises at every instruction.
  int64_t countdown_ = 0;
  int64_t deadline_ns_ = 0;
  bool expired_ = false;
  int64_t compiles_ = 0;
};

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_ENGINE_H_
