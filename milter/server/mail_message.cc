#include "milter/server/mail_message.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace milter::server {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

bool SameName(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Absl(a), Absl(b));
}

std::string_view StripBrackets(std::string_view address) {
  while (!address.empty() && (address.front() == ' ' || address.front() == '<'))
    address.remove_prefix(1);
  while (!address.empty() && (address.back() == ' ' || address.back() == '>'))
    address.remove_suffix(1);
  return address;
}

void ChangeHeader(const Modification& m, bool leading_space,
                  MailMessage* message) {
  uint32_t wanted = m.index == 0 ? 1 : m.index;
  uint32_t seen = 0;
  auto& headers = message->headers;
  for (auto it = headers.begin(); it != headers.end(); ++it) {
    if (!SameName(it->name, m.name) || ++seen != wanted) continue;
    if (m.value.empty()) {
      headers.erase(it);
    } else {
      it->value = HeaderValueFromFilter(m.value, leading_space);
    }
    return;
  }
  if (!m.value.empty()) {
    headers.push_back({m.name, HeaderValueFromFilter(m.value, leading_space)});
  }
}

// Normalises line ends to CRLF.
std::string ToCrlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += c;
  }
  return out;
}

}  // namespace

std::string_view HeaderValueForFilter(std::string_view raw,
                                      bool leading_space) {
  if (!leading_space && !raw.empty() && raw.front() == ' ') {
    raw.remove_prefix(1);
  }
  return raw;
}

std::string HeaderValueFromFilter(std::string_view value, bool leading_space) {
  if (leading_space) return std::string(value);
  return absl::StrCat(" ", Absl(value));
}

absl::Status ApplyModifications(absl::Span<const Modification> modifications,
                                bool leading_space, MailMessage* message) {
  using T = Modification::Type;
  for (const Modification& m : modifications) {
    switch (m.type) {
      case T::kAddHeader:
      case T::kInsertHeader:
      case T::kChangeHeader:
        if (m.name.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(ModificationTypeName(m.type), " with empty name"));
        }
        break;
      default:
        break;
    }
    switch (m.type) {
      case T::kAddHeader:
        message->headers.push_back(
            {m.name, HeaderValueFromFilter(m.value, leading_space)});
        break;
      case T::kInsertHeader: {
        size_t at = std::min<size_t>(m.index, message->headers.size());
        message->headers.insert(
            message->headers.begin() + at,
            {m.name, HeaderValueFromFilter(m.value, leading_space)});
        break;
      }
      case T::kChangeHeader:
        ChangeHeader(m, leading_space, message);
        break;
      case T::kChangeFrom:
        message->envelope_from = m.value;
        message->envelope_from_args = m.args;
        break;
      case T::kAddRecipient:
      case T::kAddRecipientWithArgs:
        message->recipient_args.resize(message->recipients.size());
        message->recipients.push_back(m.value);
        message->recipient_args.push_back(m.args);
        break;
      case T::kDeleteRecipient: {
        std::string_view target = StripBrackets(m.value);
        message->recipient_args.resize(message->recipients.size());
        for (size_t i = 0; i < message->recipients.size();) {
          if (SameName(StripBrackets(message->recipients[i]), target)) {
            message->recipients.erase(message->recipients.begin() + i);
            message->recipient_args.erase(message->recipient_args.begin() + i);
          } else {
            ++i;
          }
        }
        break;
      }
      case T::kReplaceBody:
        message->body = m.value;
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MailMessage> ParseRfc5322(std::string_view text) {
  MailMessage message;
  size_t pos = 0;
  auto next_line = [&](std::string_view* line) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    *line = text.substr(pos, end - pos);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  };
  int line_number = 0;
  while (pos < text.size()) {
    std::string_view line;
    next_line(&line);
    ++line_number;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      if (message.headers.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line_number, ": continuation line before any header"));
      }
      absl::StrAppend(&message.headers.back().value, "\n", Absl(line));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": not a header field (no name and colon)"));
    }
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
      name.remove_suffix(1);
    }
    message.headers.push_back(
        {std::string(name), std::string(line.substr(colon + 1))});
  }
  message.body = ToCrlf(text.substr(pos));
  return message;
}

std::vector<std::string> ExtractAddresses(std::string_view value) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  int angle = 0;
  int comment = 0;
  auto flush = [&] {
    std::string_view part = current;
    size_t lt = part.rfind('<');
    size_t gt = part.rfind('>');
    std::string address;
    if (lt != std::string_view::npos && gt != std::string_view::npos &&
        gt > lt) {
      address = std::string(part.substr(lt + 1, gt - lt - 1));
    } else {
      address = std::string(absl::StripAsciiWhitespace(Absl(part)));
    }
    address = std::string(absl::StripAsciiWhitespace(address));
    if (!address.empty()) out.push_back(absl::StrCat("<", address, ">"));
    current.clear();
  };
  for (char c : value) {
    if (c == '"' && comment == 0) quoted = !quoted;
    if (!quoted) {
      if (c == '(') ++comment;
      if (c == ')' && comment > 0) {
        --comment;
        continue;
      }
      if (comment > 0) continue;
      if (c == '<') ++angle;
      if (c == '>' && angle > 0) --angle;
      if (c == ',' && angle == 0) {
        flush();
        continue;
      }
    }
    if (c == '\n' || c == '\r') c = ' ';
    current += c;
  }
  flush();
  return out;
}

std::string SerializeMessage(const MailMessage& message, bool lf_only) {
  const char* eol = lf_only ? "\n" : "\r\n";
  std::string out;
  for (const HeaderField& h : message.headers) {
    absl::StrAppend(&out, h.name, ":");
    for (char c : h.value) {
      if (c == '\n') {
        out += eol;
      } else {
        out += c;
      }
    }
    out += eol;
  }
  out += eol;
  if (!lf_only) {
    out += message.body;
  } else {
    for (size_t i = 0; i < message.body.size(); ++i) {
      if (message.body[i] == '\r' && i + 1 < message.body.size() &&
          message.body[i + 1] == '\n') {
        continue;
      }
      out += message.body[i];
    }
  }
  return out;
}

}  // namespace milter::server
