// A small JSON reader and writer helpers for the manager's status document
// (docs/milter-manager.md, "Status"): the server writes it, `milter-manager
// --status` and the tests read it.
//
// ParseJson reads RFC 8259 JSON (objects, arrays, strings with \u escapes
// and surrogate pairs, numbers, true, false, null) into a JsonValue tree.
// It refuses, with the byte offset and reason, malformed input, trailing
// garbage, nesting deeper than kMaxJsonDepth and text longer than
// kMaxJsonBytes: bad input never crashes or recurses without bound.

#ifndef MANAGER_STATUS_JSON_H_
#define MANAGER_STATUS_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace milter::manager::status {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxJsonBytes = 16 << 20;

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> items;   // kArray: the elements; kObject: the values
  std::vector<std::string> keys;  // kObject: the keys, parallel to `items`

  // The member `key` of an object, or null when absent or not an object.
  const JsonValue* Find(std::string_view key) const;
  // The member's string, number or bool, or `fallback`.
  std::string StringOr(std::string_view key, std::string fallback) const;
  double NumberOr(std::string_view key, double fallback) const;
  bool BoolOr(std::string_view key, bool fallback) const;
};

absl::StatusOr<JsonValue> ParseJson(std::string_view text);

// `text` as a JSON string literal, quotes included; control characters,
// quotes and backslashes escaped; bytes that are not UTF-8 replaced.
std::string JsonString(std::string_view text);
// A number as JSON: integers as such, non-finite values as null.
std::string JsonNumber(double value);

}  // namespace milter::manager::status

#endif  // MANAGER_STATUS_JSON_H_
