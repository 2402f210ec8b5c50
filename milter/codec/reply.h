// SMTP reply texts a filter sends with 'y' (smfi_setreply/smfi_setmlreply):
// validation and formatting, plus body chunking for 'B' and 'b' packets.
//
// Rules (as libmilter and the MTAs enforce them): the reply code is three
// digits, 4xx or 5xx; the enhanced code, if any, is "c.s.d" whose class c
// equals the reply code's first digit; lines contain no CR or LF; at most 32
// lines; a '%' is doubled because Sendmail treats the text as a format.
// A 4xx text goes with tempfail, a 5xx text with reject.

#ifndef MILTER_CODEC_REPLY_H_
#define MILTER_CODEC_REPLY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace milter::codec {

inline constexpr size_t kMaxReplyLines = 32;

// Builds the 'y' text: "550 5.7.1 text", or for several lines
// "550-5.7.1 one\r\n550 5.7.1 two". `enhanced` may be empty; lines may be
// empty (one empty line gives "550 5.7.1"). Errors name the bad part.
absl::StatusOr<std::string> FormatReply(
    std::string_view code, std::string_view enhanced,
    absl::Span<const std::string_view> lines);

// A 'y' text split back into its parts (for the MTA side and tests).
struct ParsedReply {
  std::string code;      // "550"
  std::string enhanced;  // "5.7.1" or ""
  std::vector<std::string> lines;
};
// Parses and validates a 'y' text as MTAs do: every line starts with the same
// code, continuation lines use "ddd-", the last "ddd ".
absl::StatusOr<ParsedReply> ParseReply(std::string_view text);

// True for "d.d{1,3}.d{1,3}" with class 2, 4 or 5.
bool IsEnhancedStatusCode(std::string_view s);

// Splits `body` into chunks of at most `chunk_size` bytes (none for an empty
// body); views point into `body`.
std::vector<std::string_view> SplitBody(std::string_view body,
                                        size_t chunk_size);

}  // namespace milter::codec

#endif  // MILTER_CODEC_REPLY_H_
