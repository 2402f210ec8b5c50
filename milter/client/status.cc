#include "milter/client/status.h"

namespace milter::client {

const char* StatusName(Status status) {
  switch (status) {
    case Status::kContinue:
      return "continue";
    case Status::kAccept:
      return "accept";
    case Status::kReject:
      return "reject";
    case Status::kTempfail:
      return "tempfail";
    case Status::kDiscard:
      return "discard";
    case Status::kSkip:
      return "skip";
    case Status::kNoReply:
      return "no-reply";
  }
  return "unknown";
}

}  // namespace milter::client
