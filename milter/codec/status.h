// The verdict for one stage, as both sides of the protocol name it: what a
// filter returns from a callback (libmilter's sfsistat, milter::client) and
// what the MTA side reads back (milter::server::Verdict). One type, so that a
// verdict read from one filter can be relayed unchanged to an MTA.

#ifndef MILTER_CODEC_STATUS_H_
#define MILTER_CODEC_STATUS_H_

namespace milter::codec {

enum class Status {
  kContinue,  // 'c': go on with the next stage
  kAccept,    // 'a': accept the session (connect/helo) or the message
  kReject,    // 'r', or 'y' with a 5xx reply
  kTempfail,  // 't', or 'y' with a 4xx reply
  kDiscard,   // 'd': accept and silently drop the message
  kSkip,      // 's': body only, send no more body chunks
  kNoReply,   // filter side only: send nothing (the stage's no-reply flag)
  kShutdown,  // '4': 421, the MTA closes the SMTP connection
  kConnectionFail,  // 'f': the MTA drops the SMTP connection
};

// "continue", "accept", "reject", "tempfail", "discard", "skip", "no-reply",
// "shutdown", "connection-fail".
const char* StatusName(Status status);

// Severity when several filters answer the same envelope stage, as an MTA
// chaining them would rank them: the most severe wins. Higher is more severe:
// connection-fail > shutdown > discard > reject > tempfail > continue >
// no-reply > skip > accept.
int StatusSeverity(Status status);

}  // namespace milter::codec

#endif  // MILTER_CODEC_STATUS_H_
