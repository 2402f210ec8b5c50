// What a filter answered to one stage of an MTA-side (server) session: the
// decision (continue, accept, reject, ...) and, for a 'y' reply, the SMTP reply
// text. At end of message, also the modifications, quarantine and progress.

#ifndef MILTER_SERVER_VERDICT_H_
#define MILTER_SERVER_VERDICT_H_

#include <optional>
#include <string>
#include <vector>

#include "milter/server/modification.h"

namespace milter::server {

enum class Decision {
  kContinue,        // 'c' (or a stage the filter does not see or answer)
  kAccept,          // 'a'
  kReject,          // 'r', or 'y' with a 5xx reply
  kTempfail,        // 't', or 'y' with a 4xx reply
  kDiscard,         // 'd'
  kSkip,            // 's': send no more body chunks
  kShutdown,        // '4': 421, close the SMTP connection
  kConnectionFail,  // 'f': drop the SMTP connection
};

// "continue", "accept", "reject", "tempfail", "discard", "skip", "shutdown",
// "connection-fail".
const char* DecisionName(Decision decision);

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
  // In the order received; replace-body chunks merged into one.
  std::vector<Modification> modifications;
  // Set if the filter asked to quarantine; the reason.
  std::optional<std::string> quarantine;
};

}  // namespace milter::server

#endif  // MILTER_SERVER_VERDICT_H_
