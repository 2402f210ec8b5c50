// The launcher's message format.

#include "manager/supervise/launcher_wire.h"

namespace milter::manager::launcher_wire {
namespace {

void PutNumber(uint64_t value, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

bool GetNumber(std::string_view* in, int bytes, uint64_t* value) {
  if (in->size() < static_cast<size_t>(bytes)) return false;
  *value = 0;
  for (int i = 0; i < bytes; ++i) {
    *value |= static_cast<uint64_t>(static_cast<unsigned char>((*in)[i]))
              << (8 * i);
  }
  in->remove_prefix(bytes);
  return true;
}

}  // namespace

std::optional<std::string> Encode(const std::vector<std::string>& fields) {
  if (fields.size() > kMaxWireFields) return std::nullopt;
  std::string out;
  PutNumber(fields.size(), 2, &out);
  for (const std::string& field : fields) {
    if (field.size() > kMaxWireMessage) return std::nullopt;
    PutNumber(field.size(), 4, &out);
    out += field;
    if (out.size() > kMaxWireMessage) return std::nullopt;
  }
  return out;
}

std::optional<std::vector<std::string>> Decode(std::string_view message) {
  if (message.size() > kMaxWireMessage) return std::nullopt;
  uint64_t count = 0;
  if (!GetNumber(&message, 2, &count) || count > kMaxWireFields) {
    return std::nullopt;
  }
  std::vector<std::string> fields;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t length = 0;
    if (!GetNumber(&message, 4, &length) || length > message.size()) {
      return std::nullopt;
    }
    fields.emplace_back(message.substr(0, length));
    message.remove_prefix(length);
  }
  if (!message.empty()) return std::nullopt;
  return fields;
}

std::optional<int64_t> ParseNumber(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace milter::manager::launcher_wire
