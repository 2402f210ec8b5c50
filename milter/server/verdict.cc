#include "milter/server/verdict.h"

namespace milter::server {

const char* DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kContinue:
      return "continue";
    case Decision::kAccept:
      return "accept";
    case Decision::kReject:
      return "reject";
    case Decision::kTempfail:
      return "tempfail";
    case Decision::kDiscard:
      return "discard";
    case Decision::kSkip:
      return "skip";
    case Decision::kShutdown:
      return "shutdown";
    case Decision::kConnectionFail:
      return "connection-fail";
  }
  return "?";
}

}  // namespace milter::server
