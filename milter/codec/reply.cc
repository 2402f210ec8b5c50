// SMTP reply texts for 'y' packets: formatting, parsing, validation; body
// chunking.

#include "milter/codec/reply.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace milter::codec {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status CheckCode(std::string_view code) {
  if (code.size() != 3 || !IsDigit(code[0]) || !IsDigit(code[1]) ||
      !IsDigit(code[2]) || (code[0] != '4' && code[0] != '5')) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply code \"", Absl(code),
                     "\" is not a 4xx or 5xx three-digit code"));
  }
  return absl::OkStatus();
}

absl::Status CheckEnhanced(std::string_view code, std::string_view enhanced) {
  if (enhanced.empty()) return absl::OkStatus();
  if (!IsEnhancedStatusCode(enhanced)) {
    return absl::InvalidArgumentError(
        absl::StrCat("enhanced status code \"", Absl(enhanced),
                     "\" is not of the form c.s.d"));
  }
  if (enhanced[0] != code[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat("enhanced status code ", Absl(enhanced),
                     " does not match reply code ", Absl(code)));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsEnhancedStatusCode(std::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(Absl(s), '.');
  if (parts.size() != 3) return false;
  if (parts[0].size() != 1 ||
      (parts[0][0] != '2' && parts[0][0] != '4' && parts[0][0] != '5')) {
    return false;
  }
  for (int i = 1; i < 3; ++i) {
    if (parts[i].empty() || parts[i].size() > 3) return false;
    for (char c : parts[i]) {
      if (!IsDigit(c)) return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> FormatReply(
    std::string_view code, std::string_view enhanced,
    absl::Span<const std::string_view> lines) {
  if (absl::Status s = CheckCode(code); !s.ok()) return s;
  if (absl::Status s = CheckEnhanced(code, enhanced); !s.ok()) return s;
  if (lines.size() > kMaxReplyLines) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reply has ", lines.size(), " lines; at most ", kMaxReplyLines));
  }
  static constexpr std::string_view kEmpty[] = {""};
  if (lines.empty()) lines = kEmpty;
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("reply line ", i + 1, " contains CR or LF"));
    }
    if (line.find('\0') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("reply line ", i + 1, " contains a NUL byte"));
    }
    if (i > 0) out += "\r\n";
    absl::StrAppend(&out, Absl(code), i + 1 < lines.size() ? "-" : " ");
    if (!enhanced.empty()) {
      absl::StrAppend(&out, Absl(enhanced), line.empty() ? "" : " ");
    }
    for (char c : line) {
      out += c;
      if (c == '%') out += '%';
    }
  }
  return out;
}

absl::StatusOr<ParsedReply> ParseReply(std::string_view text) {
  ParsedReply out;
  std::vector<absl::string_view> lines = absl::StrSplit(Absl(text), "\r\n");
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    bool last = i + 1 == lines.size();
    if (line.size() < 3 || (line.size() > 3 && line[3] != (last ? ' ' : '-'))) {
      return absl::InvalidArgumentError(
          absl::StrCat("reply line ", i + 1, " does not start with \"ddd",
                       last ? " " : "-", "\": \"", line, "\""));
    }
    std::string_view code(line.data(), 3);
    if (i == 0) {
      if (absl::Status s = CheckCode(code); !s.ok()) return s;
      out.code = std::string(code);
    } else if (code != out.code) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reply line ", i + 1, " has code ", Absl(code), ", not ", out.code));
    }
    absl::string_view rest = line.size() > 4 ? line.substr(4) : "";
    absl::string_view first_word = rest.substr(0, rest.find(' '));
    std::string_view fw(first_word.data(), first_word.size());
    if (IsEnhancedStatusCode(fw) && fw[0] == code[0]) {
      if (i == 0) out.enhanced = std::string(fw);
      rest.remove_prefix(std::min(rest.size(), first_word.size() + 1));
    }
    out.lines.emplace_back(rest);
  }
  return out;
}

std::vector<std::string_view> SplitBody(std::string_view body,
                                        size_t chunk_size) {
  std::vector<std::string_view> chunks;
  if (chunk_size == 0) chunk_size = 1;
  for (size_t pos = 0; pos < body.size(); pos += chunk_size) {
    chunks.push_back(body.substr(pos, chunk_size));
  }
  return chunks;
}

}  // namespace milter::codec
