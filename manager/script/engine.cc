#include "manager/script/engine.h"

// mruby.h must come before <stdint.h>-using headers.
#include <mruby.h>
#include <mruby/array.h>
#include <mruby/class.h>
#include <mruby/compile.h>
#include <mruby/data.h>
#include <mruby/error.h>
#include <mruby/proc.h>
#include <mruby/string.h>
#include <mruby/variable.h>
#include <sys/stat.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "manager/script/files_api.h"
#include "manager/script/regexp.h"
#include "manager/script/session_api.h"

namespace milter::manager::script {
namespace {

// Instructions between two clock reads in the deadline hook.
constexpr int64_t kCheckEvery = 1024;

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

const mrb_data_type kContextType = {"ScriptContext", nullptr};

const Context* ContextOf(mrb_state* mrb, mrb_value self) {
  return static_cast<const Context*>(
      mrb_data_get_ptr(mrb, self, &kContextType));
}

// ctx[name]: the value as a String, nil when absent or after the call.
mrb_value ContextGet(mrb_state* mrb, mrb_value self) {
  const char* name;
  mrb_int len;
  mrb_get_args(mrb, "s", &name, &len);
  const Context* context = ContextOf(mrb, self);
  if (context == nullptr) return mrb_nil_value();
  auto value = context->Get(std::string_view(name, len));
  if (!value) return mrb_nil_value();
  return mrb_str_new(mrb, value->data(), value->size());
}

mrb_value ContextHasKey(mrb_state* mrb, mrb_value self) {
  const char* name;
  mrb_int len;
  mrb_get_args(mrb, "s", &name, &len);
  const Context* context = ContextOf(mrb, self);
  return mrb_bool_value(context != nullptr &&
                        context->Get(std::string_view(name, len)).has_value());
}

std::string RubyString(mrb_value v) {
  if (!mrb_string_p(v)) return "";
  return std::string(RSTRING_PTR(v), RSTRING_LEN(v));
}

absl::StatusOr<Value> ToValue(mrb_state* mrb, mrb_value v) {
  if (mrb_nil_p(v)) return Value::Nil();
  if (mrb_false_p(v)) return Value::Bool(false);
  if (mrb_true_p(v)) return Value::Bool(true);
  if (mrb_integer_p(v)) return Value::Integer(mrb_integer(v));
  if (mrb_symbol_p(v)) {
    mrb_int len;
    const char* name = mrb_sym_name_len(mrb, mrb_symbol(v), &len);
    return Value::Symbol(std::string(name, len));
  }
  if (mrb_string_p(v)) return Value::String(RubyString(v));
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported return value of class ", mrb_obj_classname(mrb, v),
      " (expected nil, true, false, Integer, Symbol or String)"));
}

struct CallArgs {
  mrb_value self;
  mrb_sym method;
  mrb_value context;
};

mrb_value CallBody(mrb_state* mrb, void* data) {
  auto* args = static_cast<CallArgs*>(data);
  return mrb_funcall_argv(mrb, args->self, args->method, 1, &args->context);
}

struct RunArgs {
  RProc* proc;
  mrb_value self;
};

mrb_value RunBody(mrb_state* mrb, void* data) {
  auto* args = static_cast<RunArgs*>(data);
  return mrb_top_run(mrb, args->proc, args->self, 0);
}

mrb_value MessageBody(mrb_state* mrb, void* data) {
  return mrb_funcall(mrb, *static_cast<mrb_value*>(data), "message", 0);
}

mrb_value BacktraceBody(mrb_state* mrb, void* data) {
  return mrb_exc_backtrace(mrb, *static_cast<mrb_value*>(data));
}

std::string ReadFile(const std::string& path, absl::Status* error) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in) {
    *error = absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  }
  return text.str();
}

}  // namespace

struct Engine::Script {
  struct Identity {
    int64_t mtime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const Identity&) const = default;
  };
  Identity loaded, failed;
  bool has_code = false;
  int64_t next_check_ns = 0;
  absl::Status last_error;
  RObject* self = nullptr;  // the file's instance (GC-registered)
  bool proc_model = false;  // RunFile: the top-level code is the handler
  RProc* proc = nullptr;    // that code (GC-registered), proc model only
};

// The deadline hook, called by the VM before every instruction.
struct EngineAccess {
  static void Hook(mrb_state* mrb, const mrb_irep*, const mrb_code* pc,
                   mrb_value*) {
    auto* engine = static_cast<Engine*>(mrb->ud);
    if (--engine->countdown_ > 0) return;
    if (!engine->expired_) {
      if (MonotonicNs() < engine->deadline_ns_) {
        engine->countdown_ = kCheckEvery;
        return;
      }
      engine->expired_ = true;
      // Record where the script was when time ran out (the first raise).
      mrb_iv_remove(mrb, mrb_obj_value(engine->timeout_exception_),
                    mrb_intern_lit(mrb, "backtrace"));
    }
    // Expired: raise at every instruction until the VM unwinds completely.
    engine->countdown_ = 1;
    mrb->c->ci->pc = pc;
    mrb_exc_raise(mrb, mrb_obj_value(engine->timeout_exception_));
  }

  // Runs `body(args)` under protection with the call's time limit and maps
  // the result; `what` names the handler in errors. The GC arena is the
  // caller's to save and restore.
  static Engine::Outcome Invoke(Engine& engine, const std::string& path,
                                std::string_view what,
                                mrb_protect_error_func* body, void* args,
                                bool keep_value) {
    mrb_state* mrb = engine.mrb_;
    engine.ArmDeadline(engine.limit_);
    engine.running_ = true;
    mrb_bool failed = false;
    mrb_value result = mrb_protect_error(mrb, body, args, &failed);
    engine.running_ = false;
    if (!failed && mrb->exc != nullptr) {
      result = mrb_obj_value(mrb->exc);
      failed = true;
    }
    mrb->exc = nullptr;
    Engine::Outcome outcome;
    if (failed) {
      bool timed_out = engine.expired_;
      std::string where = engine.Describe(mrb_obj_ptr(result), path);
      outcome.error = timed_out ? absl::DeadlineExceededError(where)
                                : absl::InternalError(where);
    } else if (keep_value) {
      absl::StatusOr<Value> value = ToValue(mrb, result);
      if (value.ok()) {
        outcome.value = *std::move(value);
      } else {
        outcome.error = absl::InvalidArgumentError(
            absl::StrCat(path, ": handler '", std::string(what),
                         "': ", value.status().message()));
      }
    }
    return outcome;
  }
};

std::string Value::DebugString() const {
  switch (kind) {
    case Kind::kNil:
      return "nil";
    case Kind::kFalse:
      return "false";
    case Kind::kTrue:
      return "true";
    case Kind::kInteger:
      return absl::StrCat(integer);
    case Kind::kSymbol:
      return absl::StrCat(":", text);
    case Kind::kString:
      return absl::StrCat("\"", text, "\"");
  }
  return "?";
}

std::optional<std::string_view> MapContext::Get(std::string_view name) const {
  auto it = values_.find(absl::string_view(name.data(), name.size()));
  if (it == values_.end()) return std::nullopt;
  return std::string_view(it->second);
}

Engine::Engine() : Engine(Options()) {}

Engine::Engine(Options options) : options_(std::move(options)) {
  mrb_ = mrb_open();
  if (mrb_ == nullptr) {
    std::fprintf(stderr, "script engine: cannot create the mruby VM\n");
    std::abort();
  }
  mrb_->ud = this;
  int ai = mrb_gc_arena_save(mrb_);
  timeout_class_ =
      mrb_define_class(mrb_, "ScriptTimeout", mrb_->eException_class);
  // One instance, raised by the hook; Describe names the call's limit.
  mrb_value exc = mrb_exc_new_str(mrb_, timeout_class_,
                                  mrb_str_new_lit(mrb_, "time limit exceeded"));
  timeout_exception_ = mrb_obj_ptr(exc);
  mrb_gc_register(mrb_, exc);
  RClass* context_class =
      mrb_define_class(mrb_, "ScriptContext", mrb_->object_class);
  MRB_SET_INSTANCE_TT(context_class, MRB_TT_DATA);
  mrb_define_method(mrb_, context_class, "[]", ContextGet, MRB_ARGS_REQ(1));
  mrb_define_method(mrb_, context_class, "key?", ContextHasKey,
                    MRB_ARGS_REQ(1));
  context_object_ =
      mrb_data_object_alloc(mrb_, context_class, nullptr, &kContextType);
  mrb_gc_register(mrb_, mrb_obj_value(context_object_));
  InstallRegexp(mrb_);
  InstallSessionApi(mrb_);
  InstallFilesApi(mrb_);
  mrb_gc_arena_restore(mrb_, ai);
  limit_ = options_.time_limit;
}

void Engine::Log(std::string_view line) {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
}

Engine::~Engine() {
  if (mrb_ != nullptr) mrb_close(mrb_);
}

int Engine::vm_depth() const {
  return static_cast<int>(mrb_->c->ci - mrb_->c->cibase);
}

void Engine::ArmDeadline(absl::Duration limit) {
  expired_ = false;
  countdown_ = kCheckEvery;
  bool finite = limit != absl::InfiniteDuration();
  // No hook at all without a limit (benchmarks measure the difference).
  mrb_->code_fetch_hook = finite ? &EngineAccess::Hook : nullptr;
  deadline_ns_ = MonotonicNs() +
                 (finite ? absl::ToInt64Nanoseconds(limit) : int64_t{1} << 62);
}

bool Engine::BindThread() {
  std::thread::id me = std::this_thread::get_id();
  if (owner_ == std::thread::id()) owner_ = me;
  return owner_ == me;
}

void Engine::Report(const absl::Status& status) {
  Log(absl::StrCat("script ", status.message()));
}

std::string Engine::Describe(RObject* exc_object, const std::string& path) {
  mrb_value exc = mrb_obj_value(exc_object);
  // Reading the message may run Ruby code (an overridden #message): it gets
  // a fresh time limit and its own protection.
  mrb_bool failed = false;
  std::string text;
  if (exc_object == timeout_exception_) {
    text = absl::StrCat("time limit of ", absl::FormatDuration(limit_),
                        " exceeded");
  } else {
    ArmDeadline(limit_);
    mrb_value message = mrb_protect_error(mrb_, MessageBody, &exc, &failed);
    text = failed ? "(message raised)" : RubyString(message);
  }
  ArmDeadline(limit_);
  mrb_value trace = mrb_protect_error(mrb_, BacktraceBody, &exc, &failed);
  std::string where = path;
  if (!failed && mrb_array_p(trace) && RARRAY_LEN(trace) > 0) {
    std::string first = RubyString(mrb_ary_ref(mrb_, trace, 0));
    // "FILE:LINE:in method" -> "FILE:LINE"
    size_t in = first.find(":in ");
    if (in != std::string::npos) first.resize(in);
    if (!first.empty()) where = first;
  }
  mrb_->exc = nullptr;
  return absl::StrCat(where, ": ", mrb_obj_classname(mrb_, exc), ": ", text);
}

absl::Status Engine::Compile(const std::string& path, Script* script) {
  absl::Status error;
  std::string source = ReadFile(path, &error);
  if (!error.ok()) return error;
  int ai = mrb_gc_arena_save(mrb_);
  mrbc_context* cxt = mrbc_context_new(mrb_);
  mrbc_filename(mrb_, cxt, path.c_str());
  cxt->capture_errors = TRUE;
  mrb_parser_state* parser =
      mrb_parse_nstring(mrb_, source.data(), source.size(), cxt);
  RProc* proc = nullptr;
  if (parser == nullptr) {
    error = absl::ResourceExhaustedError(
        absl::StrCat(path, ": cannot parse (out of memory)"));
  } else if (parser->nerr > 0) {
    const mrb_parser_message& first = parser->error_buffer[0];
    error = absl::InvalidArgumentError(
        absl::StrCat(path, ":", first.lineno, ":", first.column, ": ",
                     first.message ? first.message : "syntax error"));
  } else {
    proc = mrb_generate_code(mrb_, parser);
    if (proc == nullptr) {
      error = absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot generate code"));
    }
  }
  if (parser != nullptr) mrb_parser_free(parser);
  mrbc_context_free(mrb_, cxt);
  mrb_->exc = nullptr;
  if (!error.ok()) {
    mrb_gc_arena_restore(mrb_, ai);
    return error;
  }
  // The file's code runs in a class of its own, with one instance as self.
  RClass* cls = mrb_class_new(mrb_, mrb_->object_class);
  // Allocated without calling #initialize: no Ruby code runs unprotected.
  mrb_value self = mrb_obj_value(mrb_obj_alloc(mrb_, MRB_TT_OBJECT, cls));
  {
    mrb_state* mrb = mrb_;  // the macro names it
    MRB_PROC_SET_TARGET_CLASS(proc, cls);
  }
  if (!script->proc_model) {
    limit_ = options_.time_limit;
    error = RunTopLevel(path, proc, mrb_obj_ptr(self));
  }
  if (error.ok()) {
    if (script->self != nullptr) {
      mrb_gc_unregister(mrb_, mrb_obj_value(script->self));
    }
    if (script->proc != nullptr) {
      mrb_gc_unregister(mrb_, mrb_obj_value(script->proc));
      script->proc = nullptr;
    }
    mrb_gc_register(mrb_, self);
    script->self = mrb_obj_ptr(self);
    if (script->proc_model) {
      mrb_gc_register(mrb_, mrb_obj_value(proc));
      script->proc = proc;
    }
    ++compiles_;
  }
  mrb_gc_arena_restore(mrb_, ai);
  return error;
}

absl::Status Engine::RunTopLevel(const std::string& path, RProc* proc,
                                 RObject* self) {
  RunArgs args{proc, mrb_obj_value(self)};
  // `def` at top level defines in the base frame's target class (as
  // mrb_load_exec sets it): the file's class while its code runs.
  mrb_callinfo* base = mrb_->c->ci;
  RClass* previous = mrb_vm_ci_target_class(base);
  mrb_vm_ci_target_class_set(base, self->c);
  Outcome outcome =
      EngineAccess::Invoke(*this, path, "", RunBody, &args, false);
  mrb_vm_ci_target_class_set(mrb_->c->ci, previous);
  if (outcome.error.code() == absl::StatusCode::kInternal) {
    return absl::InvalidArgumentError(outcome.error.message());
  }
  return outcome.error;
}

Engine::Script* Engine::Fresh(const std::string& path, bool proc_model,
                              absl::Status* error) {
  std::unique_ptr<Script>& slot =
      scripts_[proc_model ? absl::StrCat(path, std::string(1, '\0')) : path];
  if (slot == nullptr) {
    slot = std::make_unique<Script>();
    slot->proc_model = proc_model;
  }
  Script* script = slot.get();
  int64_t now = MonotonicNs();
  if (script->self != nullptr && now < script->next_check_ns) return script;
  script->next_check_ns = now + absl::ToInt64Nanoseconds(options_.recheck);

  struct stat st;
  Script::Identity seen;
  if (stat(path.c_str(), &st) != 0) {
    seen.size = -2;  // distinct from any file and from "never seen"
    if (!(seen == script->failed)) {
      script->failed = seen;
      script->last_error = absl::NotFoundError(
          absl::StrCat(path, ": cannot stat: ", std::strerror(errno)));
      Report(script->last_error);
    }
  } else {
    seen.mtime_ns =
        int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    seen.size = st.st_size;
    seen.inode = st.st_ino;
    if (script->self != nullptr && seen == script->loaded) return script;
    if (!(seen == script->failed)) {
      absl::Status status = Compile(path, script);
      if (status.ok()) {
        script->loaded = seen;
        script->failed = Script::Identity();
        script->last_error = absl::OkStatus();
      } else {
        script->failed = seen;
        script->last_error = status;
        Report(status);
      }
    }
  }
  if (script->self == nullptr) {
    *error = script->last_error;
    return nullptr;
  }
  return script;  // the last good code, even if a newer edit failed
}

absl::Status Engine::Load(const std::string& path) {
  return LoadNow(path, false);
}

absl::Status Engine::LoadWholeFile(const std::string& path) {
  return LoadNow(path, true);
}

absl::Status Engine::LoadNow(const std::string& path, bool proc_model) {
  if (!BindThread()) {
    return absl::FailedPreconditionError(
        "script engine used from a second thread");
  }
  auto it = scripts_.find(proc_model ? absl::StrCat(path, std::string(1, '\0'))
                                     : path);
  if (it != scripts_.end()) it->second->next_check_ns = 0;  // check now
  absl::Status error;
  Script* script = Fresh(path, proc_model, &error);
  if (script == nullptr) return error;
  return script->last_error;
}

// The start of every call: the thread check and the script.
Engine::Script* Engine::Prepare(const std::string& path, bool proc_model,
                                const Value& fallback, Outcome* refused) {
  if (!BindThread()) {
    absl::Status error = absl::FailedPreconditionError(
        absl::StrCat(path, ": script engine used from a second thread"));
    Report(error);
    *refused = {fallback, error};
    return nullptr;
  }
  absl::Status error;
  Script* script = Fresh(path, proc_model, &error);
  if (script == nullptr) *refused = {fallback, error};
  return script;
}

Engine::Outcome Engine::CallMethod(Script* script, const std::string& path,
                                   std::string_view handler,
                                   RBasic* argument_object) {
  mrb_value argument = mrb_obj_value(argument_object);
  mrb_value self = mrb_obj_value(script->self);
  mrb_sym method = mrb_intern(mrb_, handler.data(), handler.size());
  if (!mrb_obj_respond_to(mrb_, mrb_obj_class(mrb_, self), method)) {
    return {Value(), absl::NotFoundError(absl::StrCat(
                         path, ": no handler '", std::string(handler), "'"))};
  }
  CallArgs args{self, method, argument};
  return EngineAccess::Invoke(*this, path, handler, CallBody, &args, true);
}

Engine::Outcome Engine::Finish(Outcome outcome, const Value& fallback) {
  if (!outcome.error.ok()) {
    outcome.value = fallback;
    Report(outcome.error);
  }
  return outcome;
}

Engine::Outcome Engine::Call(const std::string& path, std::string_view handler,
                             const Context& context, const Value& fallback) {
  Outcome outcome;
  Script* script = Prepare(path, false, fallback, &outcome);
  if (script == nullptr) return outcome;
  int ai = mrb_gc_arena_save(mrb_);
  mrb_data_init(mrb_obj_value(context_object_), const_cast<Context*>(&context),
                &kContextType);
  limit_ = options_.time_limit;
  outcome = CallMethod(script, path, handler,
                       reinterpret_cast<RBasic*>(context_object_));
  DATA_PTR(mrb_obj_value(context_object_)) = nullptr;
  mrb_gc_arena_restore(mrb_, ai);
  return Finish(std::move(outcome), fallback);
}

Engine::Outcome Engine::Call(const std::string& path, std::string_view handler,
                             Session& session, const Value& fallback,
                             absl::Duration time_limit) {
  Outcome outcome;
  Script* script = Prepare(path, false, fallback, &outcome);
  if (script == nullptr) return outcome;
  int ai = mrb_gc_arena_save(mrb_);
  session_ = &session;
  RBasic* object = NewSessionObject(mrb_, ++serial_);
  limit_ = time_limit;
  outcome = CallMethod(script, path, handler, object);
  session_ = nullptr;
  mrb_gc_arena_restore(mrb_, ai);
  return Finish(std::move(outcome), fallback);
}

Engine::Outcome Engine::RunFile(const std::string& path, Session& session,
                                const Value& fallback,
                                absl::Duration time_limit) {
  Outcome outcome;
  Script* script = Prepare(path, true, fallback, &outcome);
  if (script == nullptr) return outcome;
  int ai = mrb_gc_arena_save(mrb_);
  session_ = &session;
  ++serial_;
  limit_ = time_limit;
  absl::Status error = RunTopLevel(path, script->proc, script->self);
  session_ = nullptr;
  mrb_gc_arena_restore(mrb_, ai);
  if (error.code() == absl::StatusCode::kInvalidArgument) {
    error = absl::InternalError(error.message());
  }
  return Finish({Value(), error}, fallback);
}

bool Engine::Defines(const std::string& path, std::string_view handler) {
  Outcome refused;
  Script* script = Prepare(path, false, Value(), &refused);
  if (script == nullptr) return false;
  mrb_sym method = mrb_intern(mrb_, handler.data(), handler.size());
  return mrb_obj_respond_to(
      mrb_, mrb_obj_class(mrb_, mrb_obj_value(script->self)), method);
}

}  // namespace milter::manager::script
