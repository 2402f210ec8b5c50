// Milter::Session's requests: verdicts, replies, end-of-message
// modifications, child switches and macros for children (session_api.h),
// and ResolveStatus (engine.h).
//
// Every method raises (a longjmp) before it constructs any C++ object: the
// checks come first, the recording last.

#include <mruby.h>
#include <mruby/array.h>
#include <mruby/data.h>
#include <mruby/string.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "manager/script/api_util.h"
#include "manager/script/engine.h"

namespace milter::manager::script {

std::optional<codec::Status> StatusFromName(std::string_view name) {
  if (name == "continue") return codec::Status::kContinue;
  if (name == "accept") return codec::Status::kAccept;
  if (name == "reject") return codec::Status::kReject;
  if (name == "tempfail") return codec::Status::kTempfail;
  if (name == "discard") return codec::Status::kDiscard;
  if (name == "skip") return codec::Status::kSkip;
  return std::nullopt;
}

codec::Status ResolveStatus(const Engine::Outcome& outcome, Session& session) {
  std::optional<codec::Status> returned;
  if (outcome.value.kind == Value::Kind::kSymbol) {
    returned = StatusFromName(outcome.value.text);
  }
  if (!outcome.error.ok()) {
    session.Reset();
    session.status = returned.value_or(codec::Status::kContinue);
    return session.status;
  }
  if (returned && *returned != session.status) {
    session.status = *returned;
    session.reply.clear();  // it was written for another verdict
  }
  return session.status;
}

namespace api {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The first digit of the SMTP code `text` starts with, or 0 without one.
char ReplyClass(std::string_view text) {
  if (text.size() >= 3 && IsDigit(text[0]) && IsDigit(text[1]) &&
      IsDigit(text[2]) &&
      (text.size() == 3 || text[3] == ' ' || text[3] == '-')) {
    return text[0];
  }
  return 0;
}

// A complete reply: lines joined by CRLF, each starting with the same code,
// '-' after it on every line but the last, no other CR or LF.
bool ValidReply(std::string_view reply) {
  std::string_view code = reply.substr(0, 3);
  while (true) {
    size_t end = reply.find("\r\n");
    std::string_view line = reply.substr(0, end);
    if (ReplyClass(line) == 0 || line.substr(0, 3) != code ||
        line.find_first_of("\r\n") != std::string_view::npos) {
      return false;
    }
    bool last = end == std::string_view::npos;
    if (line.size() > 3 && (line[3] == '-') == last) return false;
    if (last) return true;
    if (line.size() == 3) return false;  // "550" alone cannot continue
    reply.remove_prefix(end + 2);
  }
}

mrb_value Verdict(mrb_state* mrb, mrb_value self, codec::Status status) {
  Session* session = Bound(mrb, self);
  session->status = status;
  session->reply.clear();
  return Sym(mrb, StatusSymbolName(status));
}

mrb_value Accept(mrb_state* mrb, mrb_value self) {
  return Verdict(mrb, self, codec::Status::kAccept);
}
mrb_value Discard(mrb_state* mrb, mrb_value self) {
  return Verdict(mrb, self, codec::Status::kDiscard);
}
mrb_value Skip(mrb_state* mrb, mrb_value self) {
  return Verdict(mrb, self, codec::Status::kSkip);
}
mrb_value Continue(mrb_state* mrb, mrb_value self) {
  return Verdict(mrb, self, codec::Status::kContinue);
}

// reject(reply = nil) / tempfail(reply = nil): a full reply ("550 5.7.1
// text", multi-line allowed) whose code matches the verdict, or a text that
// gets "550 5.7.1 " / "451 4.7.1 " in front.
mrb_value Refuse(mrb_state* mrb, mrb_value self, codec::Status status) {
  Session* session = Bound(mrb, self);
  const char* text = nullptr;
  mrb_int len = 0;
  mrb_get_args(mrb, "|s!", &text, &len);
  char want = status == codec::Status::kReject ? '5' : '4';
  std::string_view reply(text ? text : "", static_cast<size_t>(len));
  char cls = ReplyClass(reply);
  if (cls != 0 && cls != want) {
    mrb_raisef(mrb, E_ARGUMENT_ERROR, "%n: the reply code must be %cxx",
               mrb_get_mid(mrb), want);
  }
  CheckText(mrb, reply, cls == 0);
  if (cls != 0 && !ValidReply(reply)) {
    mrb_raisef(mrb, E_ARGUMENT_ERROR,
               "%n: a multi-line reply is \"%cxx-...\\r\\n%cxx ...\" with "
               "one code",
               mrb_get_mid(mrb), want, want);
  }
  session->status = status;
  if (reply.empty()) {
    session->reply.clear();
  } else if (cls != 0) {
    session->reply.assign(reply);
  } else {
    session->reply = std::string(want == '5' ? "550 5.7.1 " : "451 4.7.1 ");
    session->reply.append(reply);
  }
  return Sym(mrb, StatusSymbolName(status));
}

mrb_value Reject(mrb_state* mrb, mrb_value self) {
  return Refuse(mrb, self, codec::Status::kReject);
}
mrb_value Tempfail(mrb_state* mrb, mrb_value self) {
  return Refuse(mrb, self, codec::Status::kTempfail);
}

bool ValidXcode(std::string_view x, char cls) {
  // "d.d{1,3}.d{1,3}" with d == cls
  if (x.size() < 5 || x[0] != cls || x[1] != '.') return false;
  size_t dot = x.find('.', 2);
  if (dot == std::string_view::npos || dot == 2 || dot > 5) return false;
  size_t last = x.size() - dot - 1;
  if (last < 1 || last > 3) return false;
  for (size_t i = 2; i < x.size(); ++i) {
    if (i != dot && !IsDigit(x[i])) return false;
  }
  return true;
}

// reply(code, xcode, *lines)
mrb_value Reply(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  mrb_value code_arg, xcode_arg;
  const mrb_value* lines;
  mrb_int count;
  mrb_get_args(mrb, "oo*", &code_arg, &xcode_arg, &lines, &count);
  mrb_int code = -1;
  if (mrb_integer_p(code_arg)) {
    code = mrb_integer(code_arg);
  } else if (mrb_string_p(code_arg) && RSTRING_LEN(code_arg) == 3 &&
             ReplyClass(View(code_arg)) != 0) {
    code = std::stoi(std::string(View(code_arg)));
  }
  if (code < 400 || code > 599) {
    mrb_raise(mrb, E_ARGUMENT_ERROR,
              "reply: the code must be 4xx or 5xx (400..599)");
  }
  char cls = code >= 500 ? '5' : '4';
  if (!mrb_nil_p(xcode_arg) &&
      (!mrb_string_p(xcode_arg) || !ValidXcode(View(xcode_arg), cls))) {
    mrb_raisef(mrb, E_ARGUMENT_ERROR,
               "reply: the extended code must be nil or \"%c.x.y\"", cls);
  }
  for (mrb_int i = 0; i < count; ++i) {
    if (!mrb_string_p(lines[i])) {
      mrb_raise(mrb, E_TYPE_ERROR, "reply: each line must be a String");
    }
    CheckText(mrb, View(lines[i]), true);
  }
  std::string prefix = std::to_string(code);
  std::string xcode =
      mrb_nil_p(xcode_arg) ? "" : std::string(View(xcode_arg)) + " ";
  session->reply.clear();
  if (count == 0) session->reply = prefix + " " + xcode;
  for (mrb_int i = 0; i < count; ++i) {
    if (i > 0) session->reply += "\r\n";
    session->reply += prefix + (i + 1 < count ? "-" : " ") + xcode;
    session->reply.append(View(lines[i]));
  }
  while (!session->reply.empty() && session->reply.back() == ' ') {
    session->reply.pop_back();
  }
  session->status =
      cls == '5' ? codec::Status::kReject : codec::Status::kTempfail;
  return Sym(mrb, StatusSymbolName(session->status));
}

// --- End-of-message modifications.

std::string_view Arg(const char* p, mrb_int len) {
  return std::string_view(p ? p : "", static_cast<size_t>(len));
}

mrb_value AddHeader(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  const char *name, *value;
  mrb_int name_len, value_len;
  mrb_get_args(mrb, "ss", &name, &name_len, &value, &value_len);
  RequireEndOfMessage(mrb, *session);
  CheckHeaderName(mrb, Arg(name, name_len));
  CheckText(mrb, Arg(value, value_len), false);
  session->changes.push_back(codec::mod::AddHeader{
      std::string(Arg(name, name_len)), std::string(Arg(value, value_len))});
  return mrb_nil_value();
}

mrb_value InsertHeader(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  mrb_int index;
  const char *name, *value;
  mrb_int name_len, value_len;
  mrb_get_args(mrb, "iss", &index, &name, &name_len, &value, &value_len);
  RequireEndOfMessage(mrb, *session);
  if (index < 0 || index > 0xffffffffLL) {
    mrb_raise(mrb, E_ARGUMENT_ERROR, "insert_header: index must be >= 0");
  }
  CheckHeaderName(mrb, Arg(name, name_len));
  CheckText(mrb, Arg(value, value_len), false);
  session->changes.push_back(codec::mod::InsertHeader{
      static_cast<uint32_t>(index), std::string(Arg(name, name_len)),
      std::string(Arg(value, value_len))});
  return mrb_nil_value();
}

// change_header(name, index, value): nil or "" deletes.
mrb_value ChangeHeader(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  const char *name, *value;
  mrb_int name_len, index, value_len = 0;
  mrb_get_args(mrb, "sis!", &name, &name_len, &index, &value, &value_len);
  RequireEndOfMessage(mrb, *session);
  if (index < 1 || index > 0xffffffffLL) {
    mrb_raisef(mrb, E_ARGUMENT_ERROR, "%n: index counts from 1",
               mrb_get_mid(mrb));
  }
  CheckHeaderName(mrb, Arg(name, name_len));
  CheckText(mrb, Arg(value, value_len), false);
  session->changes.push_back(codec::mod::ChangeHeader{
      static_cast<uint32_t>(index), std::string(Arg(name, name_len)),
      std::string(Arg(value, value_len))});
  return mrb_nil_value();
}

// delete_header(name, index = 1)
mrb_value DeleteHeader(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  const char* name;
  mrb_int name_len, index = 1;
  mrb_get_args(mrb, "s|i", &name, &name_len, &index);
  RequireEndOfMessage(mrb, *session);
  if (index < 1 || index > 0xffffffffLL) {
    mrb_raise(mrb, E_ARGUMENT_ERROR, "delete_header: index counts from 1");
  }
  CheckHeaderName(mrb, Arg(name, name_len));
  session->changes.push_back(codec::mod::ChangeHeader{
      static_cast<uint32_t>(index), std::string(Arg(name, name_len)), ""});
  return mrb_nil_value();
}

// change_from / add_recipient (address, args = nil); delete_recipient.
mrb_value Envelope(mrb_state* mrb, mrb_value self, int which) {
  Session* session = Bound(mrb, self);
  const char *address, *args = nullptr;
  mrb_int address_len, args_len = 0;
  if (which == 2) {
    mrb_get_args(mrb, "s", &address, &address_len);
  } else {
    mrb_get_args(mrb, "s|s!", &address, &address_len, &args, &args_len);
  }
  RequireEndOfMessage(mrb, *session);
  if (address_len == 0) {
    mrb_raisef(mrb, E_ARGUMENT_ERROR, "%n: empty address", mrb_get_mid(mrb));
  }
  CheckText(mrb, Arg(address, address_len), true);
  CheckText(mrb, Arg(args, args_len), true);
  std::optional<std::string> extra;
  if (args != nullptr) extra.emplace(Arg(args, args_len));
  std::string addr(Arg(address, address_len));
  if (which == 0) {
    session->changes.push_back(
        codec::mod::ChangeFrom{std::move(addr), std::move(extra)});
  } else if (which == 1) {
    session->changes.push_back(
        codec::mod::AddRecipient{std::move(addr), std::move(extra)});
  } else {
    session->changes.push_back(codec::mod::DeleteRecipient{std::move(addr)});
  }
  return mrb_nil_value();
}
mrb_value ChangeFrom(mrb_state* mrb, mrb_value self) {
  return Envelope(mrb, self, 0);
}
mrb_value AddRecipient(mrb_state* mrb, mrb_value self) {
  return Envelope(mrb, self, 1);
}
mrb_value DeleteRecipient(mrb_state* mrb, mrb_value self) {
  return Envelope(mrb, self, 2);
}

mrb_value ReplaceBody(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  const char* data;
  mrb_int len;
  mrb_get_args(mrb, "s", &data, &len);
  RequireEndOfMessage(mrb, *session);
  session->changes.push_back(
      codec::mod::ReplaceBody{std::string(Arg(data, len))});
  return mrb_nil_value();
}

mrb_value Quarantine(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  const char* reason;
  mrb_int len;
  mrb_get_args(mrb, "s", &reason, &len);
  RequireEndOfMessage(mrb, *session);
  if (len == 0) {
    mrb_raise(mrb, E_ARGUMENT_ERROR, "quarantine: the reason is required");
  }
  CheckText(mrb, Arg(reason, len), true);
  session->changes.push_back(
      codec::mod::Quarantine{std::string(Arg(reason, len))});
  return mrb_nil_value();
}

// --- Children and macros.

// enable_child / disable_child (name, scope = :message)
mrb_value SwitchChild(mrb_state* mrb, mrb_value self, bool enabled) {
  Session* session = Bound(mrb, self);
  const char* name;
  mrb_int len;
  mrb_sym scope_sym = mrb_intern_lit(mrb, "message");
  mrb_get_args(mrb, "s|n", &name, &len, &scope_sym);
  std::string_view scope_name = mrb_sym_name(mrb, scope_sym);
  SwitchScope scope = SwitchScope::kMessage;
  if (scope_name == "session") {
    scope = SwitchScope::kSession;
  } else if (scope_name == "recipient") {
    scope = SwitchScope::kRecipient;
  } else if (scope_name != "message") {
    mrb_raisef(mrb, E_ARGUMENT_ERROR,
               "%n: scope must be :session, :message or :recipient, not :%n",
               mrb_get_mid(mrb), scope_sym);
  }
  std::string_view child = Arg(name, len);
  bool known =
      session->child_names != nullptr &&
      std::find(session->child_names->begin(), session->child_names->end(),
                child) != session->child_names->end();
  if (!known) {
    // (The name is not NUL-terminated at its length: a String of it.)
    mrb_raisef(mrb, E_ARGUMENT_ERROR, "%n: no child named \"%v\"",
               mrb_get_mid(mrb), mrb_str_new(mrb, name, len));
  }
  session->switches.push_back(ChildSwitch{std::string(child), enabled, scope});
  return mrb_nil_value();
}
mrb_value EnableChild(mrb_state* mrb, mrb_value self) {
  return SwitchChild(mrb, self, true);
}
mrb_value DisableChild(mrb_state* mrb, mrb_value self) {
  return SwitchChild(mrb, self, false);
}

// set_macro(name, value): sent to the children with the next command.
mrb_value SetMacro(mrb_state* mrb, mrb_value self) {
  Session* session = Bound(mrb, self);
  mrb_value name;
  const char* value;
  mrb_int value_len;
  mrb_get_args(mrb, "os", &name, &value, &value_len);
  if (mrb_symbol_p(name)) name = mrb_sym_str(mrb, mrb_symbol(name));
  if (!mrb_string_p(name) || RSTRING_LEN(name) == 0) {
    mrb_raise(mrb, E_ARGUMENT_ERROR,
              "set_macro: the name must be a non-empty String or Symbol");
  }
  CheckText(mrb, View(name), true);
  CheckText(mrb, Arg(value, value_len), false);
  session->macro_sets.emplace_back(std::string(View(name)),
                                   std::string(Arg(value, value_len)));
  return mrb_nil_value();
}

}  // namespace

void InstallSessionRequests(mrb_state* mrb, RClass* c) {
  mrb_define_method(mrb, c, "accept", Accept, MRB_ARGS_NONE());
  mrb_define_method(mrb, c, "discard", Discard, MRB_ARGS_NONE());
  mrb_define_method(mrb, c, "skip", Skip, MRB_ARGS_NONE());
  mrb_define_method(mrb, c, "continue", Continue, MRB_ARGS_NONE());
  mrb_define_method(mrb, c, "reject", Reject, MRB_ARGS_OPT(1));
  mrb_define_method(mrb, c, "tempfail", Tempfail, MRB_ARGS_OPT(1));
  mrb_define_method(mrb, c, "reply", Reply, MRB_ARGS_ANY());
  mrb_define_method(mrb, c, "add_header", AddHeader, MRB_ARGS_REQ(2));
  mrb_define_method(mrb, c, "insert_header", InsertHeader, MRB_ARGS_REQ(3));
  mrb_define_method(mrb, c, "change_header", ChangeHeader, MRB_ARGS_REQ(3));
  mrb_define_method(mrb, c, "delete_header", DeleteHeader, MRB_ARGS_ARG(1, 1));
  mrb_define_method(mrb, c, "change_from", ChangeFrom, MRB_ARGS_ARG(1, 1));
  mrb_define_method(mrb, c, "add_recipient", AddRecipient, MRB_ARGS_ARG(1, 1));
  mrb_define_method(mrb, c, "delete_recipient", DeleteRecipient,
                    MRB_ARGS_REQ(1));
  mrb_define_method(mrb, c, "replace_body", ReplaceBody, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, c, "quarantine", Quarantine, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, c, "enable_child", EnableChild, MRB_ARGS_ARG(1, 1));
  mrb_define_method(mrb, c, "disable_child", DisableChild, MRB_ARGS_ARG(1, 1));
  mrb_define_method(mrb, c, "set_macro", SetMacro, MRB_ARGS_REQ(2));
}

}  // namespace api
}  // namespace milter::manager::script
