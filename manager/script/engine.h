// The manager's Ruby scripting engine: one mruby VM that loads policy scripts
// (one file per purpose, e.g. a milter stage), keeps them compiled, and calls
// a named handler method in them with a context object the caller provides:
// a plain Context, or a script Session (session.h) that the script sees as a
// Milter::Session object (docs/scripting.md). RunFile runs a whole file as
// the handler, Pmilter's model (a Pmilter module is installed too). The
// handler's return value becomes a small C++ Value (nil, true/false, Integer,
// Symbol, String); anything going wrong gives the caller's fallback.
// ResolveStatus turns a session call's outcome into the stage's verdict.
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
//     it gets nil from it afterwards, never a dangling pointer. A session
//     object is a new one per call, unbound when the call returns: using a
//     kept one raises RuntimeError ("session used outside its handler call").
//   * RunFile files are compiled once into a proc (cached, re-stat()ed and
//     recompiled as above, a broken edit keeping the old proc) and the proc
//     runs on every call with self being the file's instance; nothing runs
//     at load. A file used with both Call and RunFile is loaded twice, once
//     per model.
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
#include "manager/script/session.h"
#include "milter/codec/status.h"

struct mrb_state;
struct RClass;
struct RObject;
struct RData;
struct RBasic;
struct RProc;

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

class SharedStore;

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
    // The store scripts share as Milter::Store (store.h); without one,
    // Milter::Store raises.
    std::shared_ptr<SharedStore> store;
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

  // Compiles handler file `path` now if it is not cached (or changed),
  // running its top-level code (RunFile files are compiled by RunFile). Returns
  // the error "FILE:LINE: message" if it does not compile or raises; the
  // previously loaded code, if any, stays.
  absl::Status Load(const std::string& path);
  // Compiles RunFile file `path` now if it is not cached (or changed),
  // without running it. Returns the error "FILE:LINE:COLUMN: message" if it
  // does not compile; the previously compiled code, if any, stays.
  absl::Status LoadWholeFile(const std::string& path);

  // Calls method `handler` of script `path` with the context as its one
  // argument, loading the file when needed (or when it changed).
  Outcome Call(const std::string& path, std::string_view handler,
               const Context& context, const Value& fallback);

  // Calls method `handler` of script `path` with one argument, a new
  // Milter::Session object bound to `session` for this call only. The
  // script's requests are recorded in `session`; see ResolveStatus.
  Outcome Call(const std::string& path, std::string_view handler,
               Session& session, const Value& fallback,
               absl::Duration time_limit);

  // Whether script `path` (loaded now if needed) defines method `handler`.
  // False when the file cannot be loaded.
  bool Defines(const std::string& path, std::string_view handler);

  // Pmilter's model: runs the top-level code of `path` (compiled once into a
  // proc) with `session` bound to Pmilter::Session and Milter::Session.current.
  // The code's value is ignored: the outcome's value is nil, or the fallback
  // on error. Pmilter.status= and the session's requests land in `session`.
  Outcome RunFile(const std::string& path, Session& session,
                  const Value& fallback, absl::Duration time_limit);

  // True while Ruby code runs on this VM (only ever inside Load/Call).
  bool running() const { return running_; }
  // Depth of the VM's call stack now; 0 when no Ruby code is on it.
  int vm_depth() const;
  // How many times a file was (re)compiled successfully; for tests.
  int64_t compiles() const { return compiles_; }

  // The VM, for installing extra classes before the first Load/Call.
  mrb_state* vm() { return mrb_; }
  // For the Ruby bindings: the session of the running call (or null), the
  // shared store (or null), and the log.
  Session* session() const { return session_; }
  // Counts session calls; a Milter::Session object is valid for one serial.
  uint64_t call_serial() const { return serial_; }
  SharedStore* store() const { return options_.store.get(); }
  // How often cached files (scripts, list files) are re-stat()ed.
  absl::Duration recheck() const { return options_.recheck; }
  void Log(std::string_view line);

 private:
  struct Script;
  Script* Fresh(const std::string& path, bool proc_model, absl::Status* error);
  absl::Status LoadNow(const std::string& path, bool proc_model);
  absl::Status Compile(const std::string& path, Script* script);
  absl::Status RunTopLevel(const std::string& path, RProc* proc, RObject* self);
  Script* Prepare(const std::string& path, bool proc_model,
                  const Value& fallback, Outcome* refused);
  Outcome CallMethod(Script* script, const std::string& path,
                     std::string_view handler, RBasic* argument);
  Outcome Finish(Outcome outcome, const Value& fallback);
  void Report(const absl::Status& status);
  void ArmDeadline(absl::Duration limit);
  bool BindThread();
  // "FILE:LINE: Class: message" for a raised exception.
  std::string Describe(RObject* exc, const std::string& path);
  friend struct EngineAccess;

  Options options_;
  mrb_state* mrb_ = nullptr;
  RClass* timeout_class_ = nullptr;
  RObject* timeout_exception_ = nullptr;  // raised by the hook; GC-registered
  RData* context_object_ = nullptr;       // reused per call; GC-registered
  // Keyed by path, with a '\0' suffix for RunFile's proc model.
  absl::flat_hash_map<std::string, std::unique_ptr<Script>> scripts_;
  Session* session_ = nullptr;  // bound during a session call only
  uint64_t serial_ = 0;
  absl::Duration limit_;  // of the running call
  std::thread::id owner_;
  bool running_ = false;
  // Deadline check: the hook counts instructions down and reads the clock
  // every kCheckEvery of them; once expired it raises at every instruction.
  int64_t countdown_ = 0;
  int64_t deadline_ns_ = 0;
  bool expired_ = false;
  int64_t compiles_ = 0;
};

// The status a session handler call gives, applying the return-value rules
// (docs/scripting.md): after an error, the requests are dropped
// (session.Reset()) and the status is the fallback's when it is a status
// Symbol, else continue; after success, a returned status Symbol (:continue,
// :accept, :reject, :tempfail, :discard, :skip) replaces session.status
// (dropping a reply that no longer matches it), anything else leaves
// session.status as the script's requests set it. Sets and returns
// session.status.
codec::Status ResolveStatus(const Engine::Outcome& outcome, Session& session);

// :continue, :accept, :reject, :tempfail, :discard, :skip as a Status.
std::optional<codec::Status> StatusFromName(std::string_view name);

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_ENGINE_H_
