// The MTA's leading-space rule for header values (HDR_LEADSPC), in one place
// for both sides. A header "Subject: hi" is held raw as " hi" (the bytes after
// the colon). Unless the filter negotiated HDR_LEADSPC, the MTA strips one
// leading space before sending a value to the filter and adds one to every
// value the filter sets (add, insert and change header).
//
// The MTA side applies the rule directly; the filter side, when it emulates
// HDR_LEADSPC for an MTA that lacks it, applies it backwards (rebuilds the raw
// value for the filter, strips the space the MTA will add again).

#ifndef MILTER_CODEC_HEADER_VALUE_H_
#define MILTER_CODEC_HEADER_VALUE_H_

#include <string>
#include <string_view>

namespace milter::codec {

// The value an MTA sends to a filter for the raw value `raw`.
std::string_view HeaderValueForFilter(std::string_view raw, bool leading_space);

// The raw value an MTA stores for the value `value` a filter set.
std::string HeaderValueFromFilter(std::string_view value, bool leading_space);

}  // namespace milter::codec

#endif  // MILTER_CODEC_HEADER_VALUE_H_
