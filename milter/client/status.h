// The verdict a filter callback returns for one stage (libmilter's sfsistat).
// It is codec::Status, the type the MTA side reads back, so that a relay
// passes a verdict on unchanged. kShutdown and kConnectionFail exist for
// relays (they answer '4' and 'f'); libmilter's filters cannot return them.

#ifndef MILTER_CLIENT_STATUS_H_
#define MILTER_CLIENT_STATUS_H_

#include "milter/codec/status.h"

namespace milter::client {

using Status = codec::Status;
using codec::StatusName;

}  // namespace milter::client

#endif  // MILTER_CLIENT_STATUS_H_
