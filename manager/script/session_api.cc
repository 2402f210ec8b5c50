// Milter::Session's readers, the shared helpers of the bindings, and the
// installation of every class (session_api.h). Requests are in
// session_requests.cc, Pmilter in pmilter_api.cc, the store in store_api.cc.

#include "manager/script/session_api.h"

#include <mruby.h>
#include <mruby/array.h>
#include <mruby/class.h>
#include <mruby/compile.h>
#include <mruby/data.h>
#include <mruby/string.h>
#include <mruby/variable.h>

#include <cstring>

#include "absl/time/time.h"
#include "manager/script/api_util.h"

namespace milter::manager::script {
namespace api {

const mrb_data_type kSessionType = {"Milter::Session", nullptr};

mrb_value StrArray(mrb_state* mrb, const std::vector<std::string>& items) {
  mrb_value array = mrb_ary_new_capa(mrb, static_cast<mrb_int>(items.size()));
  for (const std::string& item : items)
    mrb_ary_push(mrb, array, Str(mrb, item));
  return array;
}

Session* CurrentSession(mrb_state* mrb) {
  Session* session = EngineOf(mrb)->session();
  if (session == nullptr) {
    mrb_raise(mrb, E_RUNTIME_ERROR, "session used outside its handler call");
  }
  return session;
}

mrb_value MacroValue(mrb_state* mrb, const Session& session,
                     std::string_view name, mrb_value absent) {
  if (session.macros == nullptr) return absent;
  std::optional<std::string_view> value = session.macros->Get(name);
  return value ? Str(mrb, *value) : absent;
}

mrb_value HeadersObject(mrb_state* mrb, const Session& session) {
  mrb_value pairs =
      mrb_ary_new_capa(mrb, static_cast<mrb_int>(session.headers.size()));
  for (const auto& [name, value] : session.headers) {
    mrb_value pair[2] = {Str(mrb, name), Str(mrb, value)};
    mrb_ary_push(mrb, pairs, mrb_ary_new_from_values(mrb, 2, pair));
  }
  RClass* milter = mrb_module_get(mrb, "Milter");
  mrb_value cls = mrb_obj_value(mrb_class_get_under(mrb, milter, "Headers"));
  return mrb_funcall(mrb, cls, "new", 1, pairs);
}

void RequireEndOfMessage(mrb_state* mrb, const Session& session) {
  if (session.stage == Stage::kEndOfMessage) return;
  mrb_raisef(mrb, E_ARGUMENT_ERROR,
             "%n is allowed at end of message only, not at %s",
             mrb_get_mid(mrb), StageName(session.stage).data());
}

void CheckHeaderName(mrb_state* mrb, std::string_view name) {
  bool ok = !name.empty();
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || c == ':') ok = false;
  }
  if (!ok) {
    mrb_raisef(mrb, E_ARGUMENT_ERROR,
               "%n: invalid header name (printable ASCII without ':' or "
               "spaces wanted)",
               mrb_get_mid(mrb));
  }
}

void CheckText(mrb_state* mrb, std::string_view text, bool line) {
  for (char c : text) {
    if (c == '\0' || (line && (c == '\r' || c == '\n'))) {
      mrb_raisef(mrb, E_ARGUMENT_ERROR, "%n: %s not allowed in the text",
                 mrb_get_mid(mrb), line ? "NUL, CR or LF" : "NUL");
    }
  }
}

std::string_view StatusSymbolName(codec::Status status) {
  switch (status) {
    case codec::Status::kAccept:
      return "accept";
    case codec::Status::kReject:
      return "reject";
    case codec::Status::kTempfail:
      return "tempfail";
    case codec::Status::kDiscard:
      return "discard";
    case codec::Status::kSkip:
      return "skip";
    case codec::Status::kNoReply:
      return "no_reply";
    case codec::Status::kShutdown:
      return "shutdown";
    case codec::Status::kConnectionFail:
      return "connection_fail";
    case codec::Status::kContinue:
      break;
  }
  return "continue";
}

void InstallSessionRequests(mrb_state* mrb, RClass* session_class);

Session* Bound(mrb_state* mrb, mrb_value self) {
  Engine* engine = EngineOf(mrb);
  auto serial =
      reinterpret_cast<uintptr_t>(mrb_data_get_ptr(mrb, self, &kSessionType));
  Session* session = engine->session();
  if (session == nullptr || serial != engine->call_serial()) {
    mrb_raise(mrb, E_RUNTIME_ERROR,
              "Milter::Session used outside its handler call");
  }
  return session;
}

namespace {

// Readers of macros: the method name gives the macro (nil when absent).
struct MacroReader {
  const char* method;
  const char* macro;
};
constexpr MacroReader kMacroReaders[] = {
    {"daemon_name", "daemon_name"},
    {"mta_hostname", "j"},
    {"queue_id", "i"},
    {"tls_version", "tls_version"},
    {"cipher", "cipher"},
    {"cipher_bits", "cipher_bits"},
    {"cert_subject", "cert_subject"},
    {"cert_issuer", "cert_issuer"},
    {"auth_type", "auth_type"},
    {"auth_authen", "auth_authen"},
    {"auth_author", "auth_author"},
};

mrb_value ReadMacroByMethod(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  const char* method = mrb_sym_name(mrb, mrb_get_mid(mrb));
  for (const MacroReader& reader : kMacroReaders) {
    if (std::strcmp(reader.method, method) == 0) {
      return MacroValue(mrb, *session, reader.macro, mrb_nil_value());
    }
  }
  return mrb_nil_value();
}

mrb_value ReadMacro(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  mrb_value name;
  mrb_get_args(mrb, "o", &name);
  if (mrb_symbol_p(name)) name = mrb_sym_str(mrb, mrb_symbol(name));
  if (!mrb_string_p(name)) {
    mrb_raise(mrb, E_TYPE_ERROR, "macro name must be a String or Symbol");
  }
  return MacroValue(mrb, *session, View(name), mrb_nil_value());
}

mrb_value Family(mrb_state* mrb, codec::Family family) {
  switch (family) {
    case codec::Family::kInet:
      return Sym(mrb, "inet");
    case codec::Family::kInet6:
      return Sym(mrb, "inet6");
    case codec::Family::kUnix:
      return Sym(mrb, "unix");
    case codec::Family::kUnknown:
      break;
  }
  return Sym(mrb, "unknown");
}

mrb_value TimeValue(mrb_state* mrb, absl::Time t) {
  int64_t micros = absl::ToUnixMicros(t);
  int64_t sec = micros / 1000000, usec = micros % 1000000;
  if (usec < 0) usec += 1000000, --sec;
  mrb_value time_class = mrb_obj_value(mrb_class_get(mrb, "Time"));
  return mrb_funcall(mrb, time_class, "at", 2, mrb_int_value(mrb, sec),
                     mrb_int_value(mrb, usec));
}

mrb_value ChildAnswers(mrb_state* mrb, const Session& session) {
  mrb_value out = mrb_ary_new(mrb);
  if (session.child_answers == nullptr) return out;
  RClass* milter = mrb_module_get(mrb, "Milter");
  mrb_value cls =
      mrb_obj_value(mrb_class_get_under(mrb, milter, "ChildAnswer"));
  for (const ChildAnswer& answer : *session.child_answers) {
    mrb_value fields[4] = {
        Str(mrb, answer.child), Sym(mrb, StageName(answer.stage)),
        Sym(mrb, StatusSymbolName(answer.status)), Str(mrb, answer.reply)};
    mrb_ary_push(
        mrb, out,
        mrb_funcall_argv(mrb, cls, mrb_intern_lit(mrb, "new"), 4, fields));
  }
  return out;
}

// One reader for the plain facts, chosen by the method name.
mrb_value ReadFact(mrb_state* mrb, mrb_value self) {
  const Session& s = *Bound(mrb, self);
  std::string_view m = mrb_sym_name(mrb, mrb_get_mid(mrb));
  if (m == "client_address") return Str(mrb, s.client.address);
  if (m == "client_host") return Str(mrb, s.client.hostname);
  if (m == "client_port") return mrb_int_value(mrb, s.client.port);
  if (m == "client_family") return Family(mrb, s.client.family);
  if (m == "helo") return Str(mrb, s.helo);
  if (m == "envelope_from") return Str(mrb, s.envelope_from);
  if (m == "envelope_from_args") return StrArray(mrb, s.envelope_from_args);
  if (m == "recipients") return StrArray(mrb, s.recipients);
  if (m == "recipient") return Str(mrb, s.recipient);
  if (m == "recipient_args") return StrArray(mrb, s.recipient_args);
  if (m == "header_name") return Str(mrb, s.header_name);
  if (m == "header_value") return Str(mrb, s.header_value);
  if (m == "headers") return HeadersObject(mrb, s);
  if (m == "body_chunk") return Str(mrb, s.body_chunk);
  if (m == "unknown_command") return Str(mrb, s.unknown_command);
  if (m == "receive_time") return TimeValue(mrb, s.receive_time);
  if (m == "message_count") return mrb_int_value(mrb, s.message_count);
  if (m == "stage") return Sym(mrb, StageName(s.stage));
  if (m == "status") return Sym(mrb, StatusSymbolName(s.status));
  if (m == "reply_text") return Str(mrb, s.reply);
  if (m == "children") {
    return s.child_names ? StrArray(mrb, *s.child_names) : mrb_ary_new(mrb);
  }
  if (m == "child_answers") return ChildAnswers(mrb, s);
  return mrb_nil_value();
}

constexpr const char* kFacts[] = {
    "client_address",
    "client_host",
    "client_port",
    "client_family",
    "helo",
    "envelope_from",
    "envelope_from_args",
    "recipients",
    "recipient",
    "recipient_args",
    "header_name",
    "header_value",
    "headers",
    "body_chunk",
    "unknown_command",
    "receive_time",
    "message_count",
    "stage",
    "status",
    "reply_text",
    "children",
    "child_answers",
};

// Milter::Session.current: the session of the running call (RunFile
// scripts have no handler argument).
mrb_value SessionCurrent(mrb_state* mrb, mrb_value) {
  CurrentSession(mrb);
  return mrb_obj_value(NewSessionObject(mrb, EngineOf(mrb)->call_serial()));
}

// Kernel#__script_output(text): one line to the engine's log.
mrb_value ScriptOutput(mrb_state* mrb, mrb_value) {
  const char* text;
  mrb_int len;
  mrb_get_args(mrb, "s", &text, &len);
  EngineOf(mrb)->Log(std::string("script output: ") +
                     std::string(text, static_cast<size_t>(len)));
  return mrb_nil_value();
}

// Ruby parts: Milter::Headers, Milter::ChildAnswer, Session#[] and
// Kernel#puts/print/p over __script_output.
constexpr char kPrelude[] = R"RUBY(
module Milter
  ChildAnswer = Struct.new(:child, :stage, :status, :reply)

  class Headers
    include Enumerable
    def initialize(pairs)
      @pairs = pairs
    end
    def [](name)
      n = name.to_s.downcase
      pair = @pairs.find { |k, _| k.downcase == n }
      pair && pair[1]
    end
    def all(name)
      n = name.to_s.downcase
      @pairs.select { |k, _| k.downcase == n }.map { |_, v| v }
    end
    def key?(name)
      n = name.to_s.downcase
      @pairs.any? { |k, _| k.downcase == n }
    end
    alias include? key?
    def each(&block)
      return to_enum(:each) unless block
      @pairs.each { |k, v| block.call(k, v) }
      self
    end
    def names
      @pairs.map { |k, _| k }
    end
    def size
      @pairs.size
    end
    alias length size
    def empty?
      @pairs.empty?
    end
    def to_a
      @pairs.map { |k, v| [k, v] }
    end
  end

  class Session
    def [](name)
      macro(name)
    end
    def child_answer(child, stage = self.stage)
      child_answers.reverse.find { |a| a.child == child && a.stage == stage }
    end
  end
end

module Kernel
  def puts(*args)
    args = [""] if args.empty?
    args.flatten.each { |a| __script_output(a.to_s.chomp) }
    nil
  end
  def print(*args)
    __script_output(args.join)
    nil
  end
  def p(*args)
    args.each { |a| __script_output(a.inspect) }
    args.size <= 1 ? args.first : args
  end
end
)RUBY";

}  // namespace
}  // namespace api

RBasic* NewSessionObject(mrb_state* mrb, uint64_t serial) {
  RClass* milter = mrb_module_get(mrb, "Milter");
  RClass* cls = mrb_class_get_under(mrb, milter, "Session");
  RData* object = mrb_data_object_alloc(
      mrb, cls, reinterpret_cast<void*>(static_cast<uintptr_t>(serial)),
      &api::kSessionType);
  return reinterpret_cast<RBasic*>(object);
}

void InstallSessionApi(mrb_state* mrb) {
  int ai = mrb_gc_arena_save(mrb);
  RClass* milter = mrb_define_module(mrb, "Milter");
  RClass* session =
      mrb_define_class_under(mrb, milter, "Session", mrb->object_class);
  MRB_SET_INSTANCE_TT(session, MRB_TT_DATA);
  mrb_undef_class_method(mrb, session, "new");
  mrb_define_class_method(mrb, session, "current", api::SessionCurrent,
                          MRB_ARGS_NONE());
  for (const api::MacroReader& reader : api::kMacroReaders) {
    mrb_define_method(mrb, session, reader.method, api::ReadMacroByMethod,
                      MRB_ARGS_NONE());
  }
  for (const char* fact : api::kFacts) {
    mrb_define_method(mrb, session, fact, api::ReadFact, MRB_ARGS_NONE());
  }
  mrb_define_method(mrb, session, "macro", api::ReadMacro, MRB_ARGS_REQ(1));
  api::InstallSessionRequests(mrb, session);
  mrb_define_method(mrb, mrb->kernel_module, "__script_output",
                    api::ScriptOutput, MRB_ARGS_REQ(1));
  api::InstallStoreApi(mrb);
  api::InstallPmilterApi(mrb);
  mrb_load_string(mrb, api::kPrelude);
  if (mrb->exc != nullptr) {
    mrb_print_error(mrb);  // a bug in the prelude: visible in every test
    mrb->exc = nullptr;
  }
  mrb_gc_arena_restore(mrb, ai);
}

}  // namespace milter::manager::script
