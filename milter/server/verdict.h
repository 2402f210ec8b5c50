// What a filter answered to one stage of an MTA-side (server) session: the
// decision (continue, accept, reject, ...) and, for a 'y' reply, the SMTP reply
// text. At end of message, also the modifications, quarantine and progress.

#ifndef MILTER_SERVER_VERDICT_H_
#define MILTER_SERVER_VERDICT_H_

#include <optional>
#include <string>
#include <vector>

#include "milter/codec/modification.h"
#include "milter/codec/status.h"

namespace milter::server {

// The filter's decision: codec::Status, the type filters return, so that a
// relay passes it on unchanged. kNoReply never comes from a session.
using Decision = codec::Status;
using codec::Modification;
using codec::StatusName;
namespace mod = codec::mod;

struct Verdict {
  Decision decision = Decision::kContinue;
  // The 'y' text ("550 5.7.1 Go away", multi-line joined by CRLF), or empty.
  std::string reply;
  // 'p' packets received while waiting for this answer.
  int progress = 0;
  // False if the stage was not sent (the filter negotiated it away, or the
  // body after a skip); `answered` is also false for a stage the filter
  // negotiated not to answer.
  bool sent = true;
  bool answered = true;

  static Verdict NotSent(Decision decision = Decision::kContinue) {
    Verdict v;
    v.decision = decision;
    v.sent = false;
    v.answered = false;
    return v;
  }
  static Verdict Unanswered() {
    Verdict v;
    v.answered = false;
    return v;
  }

  // True if the filter ends the message (or session) here: anything but
  // continue and skip.
  bool Final() const {
    return decision != Decision::kContinue && decision != Decision::kSkip;
  }
};

// The answer to end of message.
struct EndOfMessageResult {
  Verdict verdict;
  // In the order received, quarantine included; replace-body chunks merged
  // into one.
  std::vector<Modification> modifications;
  // The reason of the last quarantine request, if any.
  std::optional<std::string> quarantine() const;
};

}  // namespace milter::server

#endif  // MILTER_SERVER_VERDICT_H_
