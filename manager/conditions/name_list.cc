// Name and address lists; see name_list.h.

#include "manager/conditions/name_list.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "manager/conditions/text_util.h"

namespace milter::manager::conditions {
namespace {

using internal::PatternTable;
using internal::StripFinalDot;
using internal::ToLower;
using internal::Trim;
using Kind = PatternTable::Kind;
using Pattern = PatternTable::Pattern;

absl::string_view Absl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// The entry on one line of a list file: without its comment (from a '#'
// that starts the line or follows whitespace) and surrounding whitespace.
std::string_view EntryOfLine(std::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' &&
        (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      line = line.substr(0, i);
      break;
    }
  }
  return Trim(line);
}

// `text` without surrounding angle brackets and whitespace.
std::string_view StripAngles(std::string_view text) {
  text = Trim(text);
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') {
    text = Trim(text.substr(1, text.size() - 2));
  }
  return text;
}

// A "/regex/" entry: case-insensitive, unanchored.
absl::StatusOr<Pattern> ParseRegex(std::string_view entry) {
  if (entry.size() < 2 || entry.back() != '/') {
    return absl::InvalidArgumentError("a regex must end with '/'");
  }
  std::string_view body = entry.substr(1, entry.size() - 2);
  if (body.empty()) return absl::InvalidArgumentError("empty regex");
  re2::RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  auto regex = std::make_shared<const re2::RE2>(
      re2::StringPiece(body.data(), body.size()), options);
  if (!regex->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad regex: ", regex->error()));
  }
  Pattern pattern;
  pattern.kind = Kind::kRegex;
  pattern.regex = std::move(regex);
  return pattern;
}

// Why `name` (no leading or final dot expected) is not a host name or
// domain; empty if it is one.
std::string NameProblem(std::string_view name) {
  if (name.empty()) return "empty name";
  for (char c : name) {
    if (c == '*') {
      return "'*' is not supported: '.example.com' stands for the names "
             "under example.com";
    }
    if (c == '@') return "'@' in a host name";
    if (c == '/') return "'/' in a name (a regex is written /regex/)";
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      return "whitespace or a control character in a name";
    }
  }
  if (name.front() == '.' || name.back() == '.' ||
      name.find("..") != std::string_view::npos) {
    return "empty label in a name";
  }
  return "";
}

// "example.com" (kDomain) or ".example.com" (kSubdomains).
absl::StatusOr<Pattern> ParseDomain(std::string_view entry) {
  Pattern pattern;
  pattern.kind = Kind::kDomain;
  pattern.key = ToLower(StripFinalDot(entry));
  std::string_view bare = pattern.key;
  if (!bare.empty() && bare.front() == '.') {
    pattern.kind = Kind::kSubdomains;
    bare.remove_prefix(1);
  }
  if (std::string problem = NameProblem(bare); !problem.empty()) {
    return absl::InvalidArgumentError(problem);
  }
  return pattern;
}

absl::StatusOr<Pattern> ParseNamePattern(std::string_view entry) {
  if (entry.front() == '/') return ParseRegex(entry);
  return ParseDomain(entry);
}

absl::StatusOr<Pattern> ParseAddressPattern(std::string_view entry) {
  entry = StripAngles(entry);
  if (entry.empty()) return absl::InvalidArgumentError("empty address");
  if (entry.front() == '/') return ParseRegex(entry);
  size_t at = entry.rfind('@');
  if (at == std::string_view::npos) return ParseDomain(entry);
  std::string_view local = entry.substr(0, at);
  std::string_view domain = entry.substr(at + 1);
  if (domain.empty()) return absl::InvalidArgumentError("no domain after '@'");
  absl::StatusOr<Pattern> pattern = ParseDomain(domain);
  if (!pattern.ok() || local.empty()) return pattern;  // "@example.com"
  if (pattern->kind != Kind::kDomain) {
    return absl::InvalidArgumentError("empty label in the domain");
  }
  for (char c : local) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      return absl::InvalidArgumentError(
          "whitespace or a control character in the address");
    }
  }
  pattern->kind = Kind::kExact;
  pattern->key = absl::StrCat(ToLower(local), "@", pattern->key);
  return pattern;
}

// Room for a lower-case copy of a name or an address (DNS names have at
// most 253 characters; a longer subject is copied to the heap).
using LowerBuffer = char[256];

// What a host name is matched as: lower case, no final dot.
std::string_view NormalizeName(std::string_view name, LowerBuffer& buffer,
                               std::string* fallback) {
  return internal::LowerInto(StripFinalDot(Trim(name)), buffer, fallback);
}

// What an address is matched as: no angle brackets, lower case.
std::string_view NormalizeAddress(std::string_view address, LowerBuffer& buffer,
                                  std::string* fallback) {
  return internal::LowerInto(StripFinalDot(StripAngles(address)), buffer,
                             fallback);
}

}  // namespace

std::string ListEntry::Describe() const {
  if (file.empty()) return absl::StrCat("'", pattern, "'");
  return absl::StrCat("'", pattern, "' (file ", file, ":", line, ")");
}

namespace internal {

absl::Status PatternTable::AddEntry(std::string_view entry, Parser parse) {
  std::string_view trimmed = Trim(entry);
  absl::StatusOr<Pattern> pattern =
      trimmed.empty() ? absl::InvalidArgumentError("empty entry")
                      : parse(trimmed);
  if (!pattern.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid entry '", Absl(trimmed), "': ", pattern.status().message()));
  }
  bool regex = pattern->kind == Kind::kRegex;
  Insert(ListEntry{std::string(trimmed), "", 0}, *std::move(pattern));
  if (regex) BuildRegexSet();
  return absl::OkStatus();
}

absl::Status PatternTable::AddText(std::string_view text, std::string_view file,
                                   Parser parse) {
  std::vector<std::pair<ListEntry, Pattern>> parsed;
  int line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++line;
    std::string_view entry = EntryOfLine(text.substr(pos, end - pos));
    pos = end + 1;
    if (entry.empty()) continue;
    absl::StatusOr<Pattern> pattern = parse(entry);
    if (!pattern.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Absl(file), ":", line, ": invalid entry '", Absl(entry),
                       "': ", pattern.status().message()));
    }
    parsed.emplace_back(ListEntry{std::string(entry), std::string(file), line},
                        *std::move(pattern));
  }
  size_t regexes = regexes_.size();
  for (auto& [entry, pattern] : parsed) {
    Insert(std::move(entry), std::move(pattern));
  }
  if (regexes_.size() != regexes) BuildRegexSet();
  return absl::OkStatus();
}

void PatternTable::Insert(ListEntry entry, Pattern pattern) {
  size_t index = entries_.size();
  entries_.push_back(std::move(entry));
  switch (pattern.kind) {
    case Kind::kExact:
      exact_.try_emplace(std::move(pattern.key), index);
      break;
    case Kind::kDomain:
      domain_.try_emplace(std::move(pattern.key), index);
      break;
    case Kind::kSubdomains:
      subdomains_.try_emplace(std::move(pattern.key), index);
      break;
    case Kind::kRegex:
      regexes_.emplace_back(std::move(pattern.regex), index);
      break;
  }
}

const ListEntry* PatternTable::Find(std::string_view exact,
                                    std::string_view domain,
                                    std::string_view whole) const {
  if (!exact.empty() && !exact_.empty()) {
    auto it = exact_.find(Absl(exact));
    if (it != exact_.end()) return &entries_[it->second];
  }
  if (!domain.empty() && !domain_.empty()) {
    auto it = domain_.find(Absl(domain));
    if (it != domain_.end()) return &entries_[it->second];
  }
  if (!domain.empty() && !subdomains_.empty()) {
    // Longest suffix first: ".b.example.com", then ".example.com", ...
    for (size_t dot = domain.find('.'); dot != std::string_view::npos;
         dot = domain.find('.', dot + 1)) {
      auto it = subdomains_.find(Absl(domain.substr(dot)));
      if (it != subdomains_.end()) return &entries_[it->second];
    }
  }
  return FindRegex(whole);
}

void PatternTable::BuildRegexSet() {
  regex_set_.reset();
  if (regexes_.size() < 2) return;
  auto set = std::make_shared<re2::RE2::Set>(regexes_.front().first->options(),
                                             re2::RE2::UNANCHORED);
  for (const auto& [regex, index] : regexes_) {
    if (set->Add(regex->pattern(), nullptr) < 0) return;
  }
  // Without the set (too big to compile), the regexes are tried in turn.
  if (set->Compile()) regex_set_ = std::move(set);
}

const ListEntry* PatternTable::FindRegex(std::string_view text) const {
  re2::StringPiece subject(text.data(), text.size());
  if (regex_set_ != nullptr) {
    std::vector<int> matched;
    re2::RE2::Set::ErrorInfo error;
    if (regex_set_->Match(subject, &matched, &error)) {
      int first = *std::min_element(matched.begin(), matched.end());
      return &entries_[regexes_[first].second];
    }
    if (error.kind == re2::RE2::Set::kNoError) return nullptr;
    // Out of memory for the automaton: try the regexes in turn.
  }
  for (const auto& [regex, index] : regexes_) {
    if (re2::RE2::PartialMatch(subject, *regex)) return &entries_[index];
  }
  return nullptr;
}

absl::StatusOr<std::string> ReadListFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::ErrnoToStatus(errno, path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::ErrnoToStatus(errno, path + ": read error");
  return text.str();
}

}  // namespace internal

// NameList.

absl::StatusOr<NameList> NameList::FromEntries(
    const std::vector<std::string>& entries) {
  NameList list;
  for (const std::string& entry : entries) {
    if (absl::Status s = list.Add(entry); !s.ok()) return s;
  }
  return list;
}

absl::StatusOr<NameList> NameList::FromFile(const std::string& path) {
  NameList list;
  if (absl::Status s = list.AddFile(path); !s.ok()) return s;
  return list;
}

absl::Status NameList::Add(std::string_view entry) {
  return table_.AddEntry(entry, ParseNamePattern);
}

absl::Status NameList::AddText(std::string_view text, std::string_view file) {
  return table_.AddText(text, file, ParseNamePattern);
}

absl::Status NameList::AddFile(const std::string& path) {
  absl::StatusOr<std::string> text = internal::ReadListFile(path);
  if (!text.ok()) return text.status();
  return AddText(*text, path);
}

const ListEntry* NameList::Find(std::string_view name) const {
  if (empty()) return nullptr;
  LowerBuffer buffer;
  std::string fallback;
  std::string_view normalized = NormalizeName(name, buffer, &fallback);
  return table_.Find({}, normalized, normalized);
}

// AddressList.

absl::StatusOr<AddressList> AddressList::FromEntries(
    const std::vector<std::string>& entries) {
  AddressList list;
  for (const std::string& entry : entries) {
    if (absl::Status s = list.Add(entry); !s.ok()) return s;
  }
  return list;
}

absl::StatusOr<AddressList> AddressList::FromFile(const std::string& path) {
  AddressList list;
  if (absl::Status s = list.AddFile(path); !s.ok()) return s;
  return list;
}

absl::Status AddressList::Add(std::string_view entry) {
  return table_.AddEntry(entry, ParseAddressPattern);
}

absl::Status AddressList::AddText(std::string_view text,
                                  std::string_view file) {
  return table_.AddText(text, file, ParseAddressPattern);
}

absl::Status AddressList::AddFile(const std::string& path) {
  absl::StatusOr<std::string> text = internal::ReadListFile(path);
  if (!text.ok()) return text.status();
  return AddText(*text, path);
}

const ListEntry* AddressList::Find(std::string_view address) const {
  if (empty()) return nullptr;
  LowerBuffer buffer;
  std::string fallback;
  std::string_view whole = NormalizeAddress(address, buffer, &fallback);
  size_t at = whole.rfind('@');
  std::string_view domain =
      at == std::string_view::npos ? std::string_view() : whole.substr(at + 1);
  return table_.Find(whole, domain, whole);
}

}  // namespace milter::manager::conditions
