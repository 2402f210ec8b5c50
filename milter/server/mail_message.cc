// MailMessage: applying a filter's modifications with the MTA's rules, and
// RFC 5322 parsing and writing.

#include "milter/server/mail_message.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "milter/codec/header_value.h"

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

absl::Status EmptyName(const Modification& m) {
  return absl::InvalidArgumentError(
      absl::StrCat(codec::ModificationName(m), " with empty name"));
}

void DeleteRecipient(std::string_view address, MailMessage* message) {
  std::string_view target = StripBrackets(address);
  message->recipient_args.resize(message->recipients.size());
  for (size_t i = 0; i < message->recipients.size();) {
    if (SameName(StripBrackets(message->recipients[i]), target)) {
      message->recipients.erase(message->recipients.begin() + i);
      message->recipient_args.erase(message->recipient_args.begin() + i);
    } else {
      ++i;
    }
  }
}

void ChangeHeader(const mod::ChangeHeader& m, bool leading_space,
                  HeaderIndexRules rules, MailMessage* message) {
  uint32_t wanted = m.index == 0 ? 1 : m.index;
  uint32_t seen = 0;
  auto& headers = message->headers;
  auto first = headers.begin();
  if (rules == HeaderIndexRules::kMtaOwnFirstHeader && first != headers.end()) {
    ++first;  // never counted, whatever it is
  }
  for (auto it = first; it != headers.end(); ++it) {
    if (!SameName(it->name, m.name) || ++seen != wanted) continue;
    if (m.value.empty()) {
      headers.erase(it);
    } else {
      it->value = codec::HeaderValueFromFilter(m.value, leading_space);
    }
    return;
  }
  if (!m.value.empty()) {
    headers.push_back(
        {m.name, codec::HeaderValueFromFilter(m.value, leading_space)});
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

// Applies one modification; see ApplyModifications().
absl::Status ApplyOne(const Modification& m, bool leading_space,
                      HeaderIndexRules rules, MailMessage* message) {
  if (const auto* h = std::get_if<mod::AddHeader>(&m)) {
    if (h->name.empty()) return EmptyName(m);
    message->headers.push_back(
        {h->name, codec::HeaderValueFromFilter(h->value, leading_space)});
  } else if (const auto* h = std::get_if<mod::InsertHeader>(&m)) {
    if (h->name.empty()) return EmptyName(m);
    size_t at = std::min<size_t>(h->index, message->headers.size());
    message->headers.insert(
        message->headers.begin() + at,
        {h->name, codec::HeaderValueFromFilter(h->value, leading_space)});
  } else if (const auto* h = std::get_if<mod::ChangeHeader>(&m)) {
    if (h->name.empty()) return EmptyName(m);
    ChangeHeader(*h, leading_space, rules, message);
  } else if (const auto* c = std::get_if<mod::ChangeFrom>(&m)) {
    message->envelope_from = c->address;
    message->envelope_from_args = c->args.value_or("");
  } else if (const auto* r = std::get_if<mod::AddRecipient>(&m)) {
    message->recipient_args.resize(message->recipients.size());
    message->recipients.push_back(r->address);
    message->recipient_args.push_back(r->args.value_or(""));
  } else if (const auto* r = std::get_if<mod::DeleteRecipient>(&m)) {
    DeleteRecipient(r->address, message);
  } else if (const auto* b = std::get_if<mod::ReplaceBody>(&m)) {
    message->body = b->data;
  }
  // Quarantine does not change the message.
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyModifications(absl::Span<const Modification> modifications,
                                bool leading_space, MailMessage* message,
                                HeaderIndexRules rules) {
  for (const Modification& m : modifications) {
    if (absl::Status s = ApplyOne(m, leading_space, rules, message); !s.ok()) {
      return s;
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
