// The shell-assignment and UCL parsers of manager/detect (files.h).

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "manager/detect/files.h"

namespace milter::manager::detect_internal {

namespace {

using Vars = absl::flat_hash_map<std::string, Setting>;
using Preset = absl::flat_hash_map<std::string, std::string>;

bool NameChar(char c, bool first) {
  return absl::ascii_isalpha(c) || c == '_' ||
         (!first && absl::ascii_isdigit(c));
}

std::string Lookup(const std::string& name, const Vars& vars,
                   const Preset& preset) {
  if (auto it = vars.find(name); it != vars.end()) return it->second.value;
  if (auto it = preset.find(name); it != preset.end()) return it->second;
  return "";
}

// Expands the $NAME or ${NAME} at text[*i] (text[*i] == '$').
std::string Expand(absl::string_view text, size_t* i, const Vars& vars,
                   const Preset& preset) {
  size_t start = *i + 1;
  if (start < text.size() && text[start] == '{') {
    size_t close = text.find('}', start);
    if (close == absl::string_view::npos) {
      *i = text.size();
      return "";
    }
    std::string name(text.substr(start + 1, close - start - 1));
    name = name.substr(0, name.find_first_of(":-=+?"));
    *i = close + 1;
    return Lookup(name, vars, preset);
  }
  size_t end = start;
  while (end < text.size() && NameChar(text[end], end == start)) ++end;
  *i = end;
  if (end == start) return "$";
  return Lookup(std::string(text.substr(start, end - start)), vars, preset);
}

// The shell word at the start of `text`; nullopt on an unterminated quote.
std::optional<std::string> Word(absl::string_view text, const Vars& vars,
                                const Preset& preset) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (absl::ascii_isspace(c) || c == ';') break;
    if (c == '\'') {
      size_t close = text.find('\'', i + 1);
      if (close == absl::string_view::npos) return std::nullopt;
      out += std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '$') {
          out += Expand(text, &i, vars, preset);
        } else if (text[i] == '\\' && i + 1 < text.size()) {
          out += text[i + 1];
          i += 2;
        } else {
          out += text[i++];
        }
      }
      if (i >= text.size()) return std::nullopt;
      ++i;
    } else if (c == '$') {
      out += Expand(text, &i, vars, preset);
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<absl::flat_hash_map<std::string, Setting>> ParseShell(
    const std::vector<std::string>& lines, absl::string_view file,
    const absl::flat_hash_map<std::string, std::string>& preset) {
  Vars vars;
  for (size_t n = 0; n < lines.size(); ++n) {
    absl::string_view line = absl::StripAsciiWhitespace(lines[n]);
    if (absl::StartsWith(line, "export ")) {
      line = absl::StripLeadingAsciiWhitespace(line.substr(7));
    }
    size_t eq = line.find('=');
    if (eq == 0 || eq == absl::string_view::npos) continue;
    bool name_ok = true;
    for (size_t i = 0; i < eq; ++i) name_ok &= NameChar(line[i], i == 0);
    if (!name_ok) continue;
    std::optional<std::string> value = Word(line.substr(eq + 1), vars, preset);
    if (!value.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(file), ":", n + 1, ": unterminated quote"));
    }
    vars[std::string(line.substr(0, eq))] =
        Setting{*value, static_cast<int>(n + 1)};
  }
  return vars;
}

namespace {

// A UCL tokenizer over the whole file, tracking lines.
class Ucl {
 public:
  Ucl(const std::vector<std::string>& lines, absl::string_view file)
      : text_(absl::StrJoin(lines, "\n")), file_(file) {}

  absl::StatusOr<std::vector<UclEntry>> Parse() {
    while (true) {
      absl::StatusOr<bool> more = Statement();
      if (!more.ok()) return more.status();
      if (!*more) break;
    }
    if (!sections_.empty()) return Error(open_line_, "unclosed '{'");
    return std::move(entries_);
  }

 private:
  absl::Status Error(int line, absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ":", line, ": ", std::string(why)));
  }

  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void Advance() {
    if (text_[pos_++] == '\n') ++line_;
  }

  // Skips spaces and comments; stops at a newline when `newline` is set.
  absl::Status Skip(bool newline) {
    while (pos_ < text_.size()) {
      char c = Peek();
      if (c == '\n' && newline) return absl::OkStatus();
      if (absl::ascii_isspace(c)) {
        Advance();
      } else if (c == '#') {
        while (pos_ < text_.size() && Peek() != '\n') Advance();
      } else if (c == '/' && pos_ + 1 < text_.size() &&
                 text_[pos_ + 1] == '*') {
        int start = line_;
        size_t close = text_.find("*/", pos_ + 2);
        if (close == std::string::npos) {
          return Error(start, "unterminated comment");
        }
        while (pos_ < close + 2) Advance();
      } else {
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  // A word or a quoted string; parentheses are kept whole (.include(...)).
  absl::StatusOr<std::string> Token() {
    std::string out;
    if (Peek() == '"' || Peek() == '\'') {
      char quote = Peek();
      int start = line_;
      Advance();
      while (pos_ < text_.size() && Peek() != quote && Peek() != '\n') {
        if (Peek() == '\\' && pos_ + 1 < text_.size()) Advance();
        out += Peek();
        Advance();
      }
      if (Peek() != quote) return Error(start, "unterminated string");
      Advance();
      return out;
    }
    int depth = 0;
    while (pos_ < text_.size()) {
      char c = Peek();
      if (c == '(') ++depth;
      if (c == ')') --depth;
      if (depth <= 0 && (absl::ascii_isspace(c) || c == ';' || c == ',' ||
                         c == '{' || c == '}' || c == '=' || c == '#')) {
        break;
      }
      out += c;
      Advance();
    }
    if (!out.empty() && out.back() == ':') out.pop_back();
    return out;
  }

  // One statement; false at the end of the text.
  absl::StatusOr<bool> Statement() {
    if (absl::Status s = Skip(false); !s.ok()) return s;
    if (pos_ >= text_.size()) return false;
    if (Peek() == '}') {
      if (sections_.empty()) return Error(line_, "'}' without '{'");
      sections_.pop_back();
      Advance();
      return true;
    }
    if (Peek() == ';' || Peek() == ',') {
      Advance();
      return true;
    }
    int line = line_;
    std::vector<std::string> words;
    while (true) {
      if (absl::Status s = Skip(true); !s.ok()) return s;
      char c = Peek();
      if (pos_ >= text_.size() || c == '\n' || c == ';' || c == ',' ||
          c == '}') {
        break;
      }
      if (c == '{') {
        Advance();
        if (sections_.empty()) open_line_ = line;
        sections_.push_back(absl::StrJoin(words, " "));
        return true;
      }
      if (c == '=') {
        Advance();
        continue;
      }
      absl::StatusOr<std::string> word = Token();
      if (!word.ok()) return word.status();
      if (word->empty()) return Error(line_, "unexpected character");
      words.push_back(*std::move(word));
    }
    if (!words.empty() && words[0][0] != '.') {
      if (words.size() < 2) {
        return Error(line, absl::StrCat("\"", words[0], "\" has no value"));
      }
      std::vector<std::string> rest(words.begin() + 1, words.end());
      entries_.push_back(UclEntry{absl::StrJoin(sections_, "/"), words[0],
                                  absl::StrJoin(rest, " "), line});
    }
    return true;
  }

  std::string text_;
  std::string file_;
  size_t pos_ = 0;
  int line_ = 1;
  int open_line_ = 0;
  std::vector<std::string> sections_;
  std::vector<UclEntry> entries_;
};

}  // namespace

absl::StatusOr<std::vector<UclEntry>> ParseUcl(
    const std::vector<std::string>& lines, absl::string_view file) {
  return Ucl(lines, file).Parse();
}

}  // namespace milter::manager::detect_internal
