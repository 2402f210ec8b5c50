// The HDR_LEADSPC rule; see header_value.h.

#include "milter/codec/header_value.h"

namespace milter::codec {

std::string_view HeaderValueForFilter(std::string_view raw,
                                      bool leading_space) {
  if (!leading_space && !raw.empty() && raw.front() == ' ') {
    raw.remove_prefix(1);
  }
  return raw;
}

std::string HeaderValueFromFilter(std::string_view value, bool leading_space) {
  if (leading_space) return std::string(value);
  std::string raw;
  raw.reserve(value.size() + 1);
  raw += ' ';
  raw.append(value);
  return raw;
}

}  // namespace milter::codec
