// Helpers shared by the Ruby bindings of the script session
// (session_api.cc, pmilter_api.cc, store_api.cc): the engine behind a VM,
// the bound session, and conversions. Internal to manager/script.
//
// Contract: functions that may raise (a Ruby exception is a longjmp) are
// marked so; callers must not have a C++ object with a destructor alive in
// their frame when calling them.

#ifndef MANAGER_SCRIPT_API_UTIL_H_
#define MANAGER_SCRIPT_API_UTIL_H_

#include <mruby.h>
#include <mruby/data.h>
#include <mruby/string.h>

#include <string>
#include <string_view>
#include <vector>

#include "manager/script/engine.h"
#include "manager/script/session.h"

namespace milter::manager::script::api {

inline Engine* EngineOf(mrb_state* mrb) {
  return static_cast<Engine*>(mrb->ud);
}

inline std::string_view View(mrb_value str) {
  return std::string_view(RSTRING_PTR(str), RSTRING_LEN(str));
}

inline mrb_value Str(mrb_state* mrb, std::string_view text) {
  return mrb_str_new(mrb, text.data(), text.size());
}

inline mrb_value Sym(mrb_state* mrb, std::string_view name) {
  return mrb_symbol_value(mrb_intern(mrb, name.data(), name.size()));
}

mrb_value StrArray(mrb_state* mrb, const std::vector<std::string>& items);

// Milter::Session objects: DATA_PTR holds the serial of their call.
extern const mrb_data_type kSessionType;

// The bound session of a Milter::Session object. Raises RuntimeError when
// the object's call is over.
Session* Bound(mrb_state* mrb, mrb_value self);

// The session of the running call. Raises RuntimeError when there is none.
Session* CurrentSession(mrb_state* mrb);

// A macro's value as a String, or `absent` when the session has none.
mrb_value MacroValue(mrb_state* mrb, const Session& session,
                     std::string_view name, mrb_value absent);

// The current header list as a Milter::Headers object.
mrb_value HeadersObject(mrb_state* mrb, const Session& session);

// Raises ArgumentError (naming the calling method and the stage) unless the
// session is at end of message.
void RequireEndOfMessage(mrb_state* mrb, const Session& session);

// Raises ArgumentError unless `name` is a valid header name.
void CheckHeaderName(mrb_state* mrb, std::string_view name);
// Raises ArgumentError if `text` holds a NUL (or, with `line`, CR or LF).
void CheckText(mrb_state* mrb, std::string_view text, bool line);

// :continue, :accept, ... for a status.
std::string_view StatusSymbolName(codec::Status status);

void InstallPmilterApi(mrb_state* mrb);
void InstallStoreApi(mrb_state* mrb);

}  // namespace milter::manager::script::api

#endif  // MANAGER_SCRIPT_API_UTIL_H_
