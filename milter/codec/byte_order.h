// Big-endian (network order) loads and stores for the milter wire format.

#ifndef MILTER_CODEC_BYTE_ORDER_H_
#define MILTER_CODEC_BYTE_ORDER_H_

#include <cstdint>
#include <string>

namespace milter::codec {

inline uint32_t LoadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

inline uint16_t LoadBigEndian16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

inline void AppendBigEndian32(uint32_t v, std::string* out) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

inline void AppendBigEndian16(uint16_t v, std::string* out) {
  char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 2);
}

}  // namespace milter::codec

#endif  // MILTER_CODEC_BYTE_ORDER_H_
