// Names and severities of codec::Status.

#include "milter/codec/status.h"

namespace milter::codec {

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
    case Status::kShutdown:
      return "shutdown";
    case Status::kConnectionFail:
      return "connection-fail";
  }
  return "unknown";
}

int StatusSeverity(Status status) {
  switch (status) {
    case Status::kAccept:
      return 0;
    case Status::kSkip:
      return 1;
    case Status::kNoReply:
      return 2;
    case Status::kContinue:
      return 3;
    case Status::kTempfail:
      return 4;
    case Status::kReject:
      return 5;
    case Status::kDiscard:
      return 6;
    case Status::kShutdown:
      return 7;
    case Status::kConnectionFail:
      return 8;
  }
  return 3;
}

}  // namespace milter::codec
