// What a policy script sees of an MTA session at one stage, and what it asks
// the manager to do: the C++ side of the Ruby session API
// (docs/scripting.md). The manager fills the facts before each handler call
// and reads the requests afterwards; the Ruby bindings (session_api.h) read
// the facts and record the requests. Plain data: no Ruby, no I/O.
//
// Contract:
//   * Facts are valid for the duration of one call; `macros` and
//     `child_answers` point into the manager's session state (may be null).
//   * Requests accumulate during a call; the manager clears them (Reset)
//     before the next call. Modifications are honoured at end of message
//     only; at other stages the bindings refuse them (the script gets an
//     ArgumentError naming the stage).
//   * `status` starts as continue; `reply` is a complete SMTP reply text
//     ("550 5.7.1 text", multi-line "550-5.7.1 a\r\n550 5.7.1 b") or empty.

#ifndef MANAGER_SCRIPT_SESSION_H_
#define MANAGER_SCRIPT_SESSION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "milter/codec/connection_info.h"
#include "milter/codec/macros.h"
#include "milter/codec/modification.h"
#include "milter/codec/status.h"

namespace milter::manager::script {

// The stages a handler runs at, with the names scripts use.
enum class Stage {
  kConnect,            // "connect"
  kHelo,               // "helo"
  kEnvelopeFrom,       // "envfrom"
  kEnvelopeRecipient,  // "envrcpt"
  kData,               // "data"
  kUnknown,            // "unknown"
  kHeader,             // "header"
  kEndOfHeaders,       // "eoh"
  kBody,               // "body"
  kEndOfMessage,       // "eom"
  kAbort,              // "abort"
  kClose,              // "close"
};
inline constexpr int kNumStages = 12;
std::string_view StageName(Stage stage);
// The handler method a per-stage file defines: "on_connect", ... "on_close".
std::string_view HandlerName(Stage stage);

// What one child answered at one stage of this session (envelope stages;
// at RCPT the last recipient's).
struct ChildAnswer {
  std::string child;
  Stage stage;
  codec::Status status;
  std::string reply;  // as the child sent it, or ""
};

// How long a switch of a child holds.
enum class SwitchScope { kSession, kMessage, kRecipient };

// A request to let a child take part again (enabled) or not.
struct ChildSwitch {
  std::string child;
  bool enabled;
  SwitchScope scope;
};

struct Session {
  // --- Facts.
  Stage stage = Stage::kConnect;
  codec::ConnectionInfo client;  // hostname, family, port, address
  std::string helo;
  std::string envelope_from;                    // as given: "<a@example.com>"
  std::vector<std::string> envelope_from_args;  // ESMTP: "SIZE=123", ...
  std::vector<std::string> recipients;          // of this message so far
  std::string recipient;                        // the current one, at RCPT
  std::vector<std::string> recipient_args;
  // Headers of this message so far, in order; values as filters see them
  // (no leading space after the colon).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header_name, header_value;    // the current one, at header
  std::string_view body_chunk;              // the current one, at body
  std::string unknown_command;              // at unknown
  const codec::MacroMap* macros = nullptr;  // every macro so far
  absl::Time receive_time;                  // the MTA connection's start
  int message_count = 0;                    // messages begun in the session
  // The children's answers so far (empty without children).
  const std::vector<ChildAnswer>* child_answers = nullptr;
  // Names of the configured children, in order.
  const std::vector<std::string>* child_names = nullptr;

  // --- Requests.
  codec::Status status = codec::Status::kContinue;
  std::string reply;
  std::vector<codec::Modification> changes;  // end of message only
  std::vector<ChildSwitch> switches;         // applied in order
  std::vector<std::pair<std::string, std::string>> macro_sets;  // to children

  // Clears the requests (not the facts).
  void Reset() {
    status = codec::Status::kContinue;
    reply.clear();
    changes.clear();
    switches.clear();
    macro_sets.clear();
  }
  // A macro by name ("i", "{auth_authen}" or "auth_authen"), "" if unknown.
  std::string_view Macro(std::string_view name) const;
};

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_SESSION_H_
