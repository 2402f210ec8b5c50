// An in-memory message as the MTA side holds it (envelope, headers, body),
// the RFC 5322 file format for it, and ApplyModifications(): the result of a
// filter's end-of-message modifications, with the MTA's rules:
//
// - add-header appends; insert-header's index is global over all headers, 0
//   inserts before everything, an index past the end appends (with an MTA's
//   own hidden first header, see HeaderIndexRules).
// - change-header's index counts occurrences of that name (case-insensitive)
//   from 1, 0 acts as 1; an empty value deletes; changing an occurrence that
//   does not exist adds the header (as Sendmail does) unless the value is
//   empty.
// - Header values are stored raw, as after the colon on the wire (" value").
//   Unless HDR_LEADSPC was negotiated the MTA strips one leading space before
//   sending a value to the filter and adds one to values the filter sets
//   (codec/header_value.h).
//   Folded values use bare LF between lines. Values are bytes, not UTF-8.
// - replace-body replaces the whole body; change-from replaces the sender;
//   recipients are added at the end and deleted by address (case-insensitive,
//   angle brackets optional); quarantine leaves the message as it is.

#ifndef MILTER_SERVER_MAIL_MESSAGE_H_
#define MILTER_SERVER_MAIL_MESSAGE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "milter/codec/header_value.h"
#include "milter/server/verdict.h"

namespace milter::server {

struct HeaderField {
  std::string name;
  std::string value;  // raw: usually starts with a space
  friend bool operator==(const HeaderField&, const HeaderField&) = default;
};

struct MailMessage {
  std::string envelope_from;  // "<a@example.com>"
  std::string envelope_from_args;
  std::vector<std::string> recipients;      // "<b@example.com>"
  std::vector<std::string> recipient_args;  // parallel to recipients; may be
                                            // shorter (missing = none)
  std::vector<HeaderField> headers;
  std::string body;  // CRLF line ends, as sent over SMTP
};

// How header indices count.
enum class HeaderIndexRules {
  // Every header of `message` is one the filter was shown.
  kAllShown,
  // As Postfix does (cleanup_milter.c): headers[0] is the MTA's own first
  // header (its Received), which it never shows to filters. insert-header
  // counts it (0 inserts above it, 1 right below it, n before the filter's
  // n-th header); change-header counts occurrences after headers[0],
  // whatever header is first by then (after an insert at 0, the inserted
  // one, and then the MTA's own header counts).
  kMtaOwnFirstHeader,
};

// Applies `modifications` in order. Errors only for malformed input (e.g. an
// empty header name); a deleted recipient that is not there is ignored.
absl::Status ApplyModifications(
    absl::Span<const Modification> modifications, bool leading_space,
    MailMessage* message, HeaderIndexRules rules = HeaderIndexRules::kAllShown);

// Parses an RFC 5322 message (LF or CRLF line ends): header fields with
// folding up to the first empty line, then the body (normalised to CRLF).
// Envelope fields stay empty.
absl::StatusOr<MailMessage> ParseRfc5322(std::string_view text);

// Address lists from a header value: "A <a@x>, b@y" -> {"<a@x>", "<b@y>"}.
std::vector<std::string> ExtractAddresses(std::string_view value);

// Writes headers ("Name:raw", folds as CRLF) and body, CRLF line ends; with
// `lf_only`, LF line ends instead (for terminals).
std::string SerializeMessage(const MailMessage& message, bool lf_only);

}  // namespace milter::server

#endif  // MILTER_SERVER_MAIL_MESSAGE_H_
