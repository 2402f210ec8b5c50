// Options of an MTA-side (server) session: what the MTA offers in option
// negotiation and how long it waits for the filter.

#ifndef MILTER_SERVER_SESSION_OPTIONS_H_
#define MILTER_SERVER_SESSION_OPTIONS_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "milter/codec/protocol.h"

namespace milter::server {

struct SessionOptions {
  // Offered protocol version (2..6), actions and protocol flags. The defaults
  // offer everything version 6 defines, including the larger data sizes.
  uint32_t version = codec::kMaxVersion;
  uint32_t actions = codec::action::kAll;
  uint32_t protocol = codec::protocol::kAll;

  // Postfix's defaults: milter_connect_timeout, milter_command_timeout (also
  // for writes) and milter_content_timeout (end of message).
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(30);
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration end_of_message_timeout = absl::Seconds(300);

  // Largest total of modification bytes accepted at one end of message (a
  // filter could otherwise send replace-body chunks until memory runs out).
  size_t max_modification_bytes = 64 * 1024 * 1024;

  // Holds the packets of stages the filter will not answer (its no-reply
  // flags) and of abort, and writes them together with the next command
  // (up to 64 KiB held): one system call instead of one per stage, as a load
  // generator wants. The filter receives the same bytes, only later: a held
  // stage reaches it when the next stage is sent, and a write error shows at
  // that stage. Off by default.
  bool defer_unanswered_writes = false;

  // What version 2..5 MTAs offer (mfdef.h: SMFI_V2_ACTS, SMFI_V2_PROT) when
  // `version` is below 6 and the defaults above are kept.
  static SessionOptions ForVersion(uint32_t version);
};

inline SessionOptions SessionOptions::ForVersion(uint32_t version) {
  SessionOptions options;
  options.version = version;
  if (version < 6) {
    options.actions = 0x3F;
    options.protocol = 0x7F;
  }
  return options;
}

}  // namespace milter::server

#endif  // MILTER_SERVER_SESSION_OPTIONS_H_
