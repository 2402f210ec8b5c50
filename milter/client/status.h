// The verdict a filter callback returns for one stage (libmilter's sfsistat).

#ifndef MILTER_CLIENT_STATUS_H_
#define MILTER_CLIENT_STATUS_H_

namespace milter::client {

enum class Status {
  kContinue,  // go on with the next stage
  kAccept,    // accept: the session (connect/helo) or the message, unfiltered
  kReject,    // reject (5xx; the reply set with Context::SetReply, if any)
  kTempfail,  // temporary failure (4xx; likewise)
  kDiscard,   // accept and silently drop the message
  kSkip,      // body only: send no more body chunks
  kNoReply,   // send no reply; only for a stage whose no-reply flag is set
};

// "continue", "accept", "reject", ...
const char* StatusName(Status status);

}  // namespace milter::client

#endif  // MILTER_CLIENT_STATUS_H_
