// Element types that cross the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace marlin {

enum class DType : std::uint8_t {
  kFloat16,
  kBFloat16,
  kFloat32,
  kInt32,
  kUInt8,
  kInt4Packed,  // two 4-bit values per byte (bits 0-3 first); shapes count values, not bytes
  kInt8Packed,  // one 8-bit value per byte, stored unsigned with an implicit or explicit zero
};

// Bits one element occupies in memory.
constexpr int dtype_bits(DType t) {
  switch (t) {
    case DType::kFloat16: return 16;
    case DType::kBFloat16: return 16;
    case DType::kFloat32: return 32;
    case DType::kInt32: return 32;
    case DType::kUInt8: return 8;
    case DType::kInt4Packed: return 4;
    case DType::kInt8Packed: return 8;
  }
  return 0;
}

// Bytes needed for `count` elements; sub-byte types round up to whole bytes.
constexpr std::size_t dtype_bytes(DType t, std::size_t count) {
  return (count * static_cast<std::size_t>(dtype_bits(t)) + 7) / 8;
}

std::string_view dtype_name(DType t);

}  // namespace marlin
