// The Ruby side of the script session (session.h): the classes every
// Engine's VM gets (docs/scripting.md):
//   * Milter::Session: the handler argument, readers for the session's facts
//     and methods recording the script's requests (verdicts, replies,
//     end-of-message modifications, child switches, macros for children);
//     Milter::Headers, Milter::ChildAnswer;
//   * Milter::Store: the store shared across sessions and threads (store.h);
//   * Pmilter: Pmilter's API (Pmilter.status=, Pmilter::Session,
//     Pmilter::Session::Headers, SMFIS_* constants) for RunFile scripts;
//   * Kernel#puts, #print, #p writing to the engine's log.
//
// Contract:
//   * A Milter::Session object carries the serial of the call it was made
//     for; it reads and writes the engine's bound Session only during that
//     call, and raises RuntimeError afterwards (never a dangling pointer).
//   * Requests are checked before being recorded: a bad reply code, header
//     name, scope or child name raises ArgumentError and records nothing;
//     modifications outside end of message raise ArgumentError naming the
//     stage.

#ifndef MANAGER_SCRIPT_SESSION_API_H_
#define MANAGER_SCRIPT_SESSION_API_H_

#include <cstdint>

#include "manager/script/session.h"

struct mrb_state;

namespace milter::manager::script {

// Defines the classes above in `mrb` (whose ud is its Engine).
void InstallSessionApi(mrb_state* mrb);

// A new Milter::Session object for the call with serial `serial`, or nil if
// the VM cannot allocate it. Returned as the VM's object pointer.
struct RBasic* NewSessionObject(mrb_state* mrb, uint64_t serial);

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_SESSION_API_H_
