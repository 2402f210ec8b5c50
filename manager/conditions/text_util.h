// Small string helpers shared by the matchers of this package: ASCII only,
// no allocation except ToLower's result. Not part of the public interface.

#ifndef MANAGER_CONDITIONS_TEXT_UTIL_H_
#define MANAGER_CONDITIONS_TEXT_UTIL_H_

#include <string>
#include <string_view>

namespace milter::manager::conditions::internal {

// `text` without leading and trailing ASCII whitespace.
inline std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

inline char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `text` in lower case (ASCII letters only).
inline std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// A lower-case copy of `text` (ASCII letters only) in `buffer` when it
// fits, else in `*fallback`: no allocation for host names and most
// addresses.
template <size_t N>
std::string_view LowerInto(std::string_view text, char (&buffer)[N],
                           std::string* fallback) {
  char* out = buffer;
  if (text.size() > N) {
    fallback->resize(text.size());
    out = fallback->data();
  }
  for (size_t i = 0; i < text.size(); ++i) out[i] = AsciiLower(text[i]);
  return std::string_view(out, text.size());
}

inline bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         EqualsNoCase(text.substr(0, prefix.size()), prefix);
}

// `name` without one final dot ("mail.example.com." is fully qualified).
inline std::string_view StripFinalDot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

}  // namespace milter::manager::conditions::internal

#endif  // MANAGER_CONDITIONS_TEXT_UTIL_H_
