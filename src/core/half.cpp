#include "marlin/half.h"

#include <cstring>

namespace marlin {
namespace {

std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

float half_to_float(Half h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exponent = (h.bits >> 10) & 0x1fu;
  std::uint32_t mantissa = h.bits & 0x3ffu;
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));  // inf / nan
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    // Subnormal: value = mantissa * 2^-24, exact in fp32.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

Half float_to_half(float f) {
  const std::uint32_t u = float_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t abs_bits = u & 0x7fffffffu;
  if (abs_bits >= 0x7f800000u) {  // inf or nan (nan keeps a quiet bit)
    return Half{static_cast<std::uint16_t>(sign | 0x7c00u | (abs_bits > 0x7f800000u ? 0x200u : 0u))};
  }
  if (abs_bits >= 0x477ff000u) return Half{static_cast<std::uint16_t>(sign | 0x7c00u)};  // overflow
  if (abs_bits < 0x38800000u) {
    // Result is subnormal or zero: scale to units of 2^-24 and round to nearest even.
    const float magnitude = bits_float(abs_bits) * 16777216.0f;  // exact: power of two
    const float rounded = magnitude + 12582912.0f - 12582912.0f;  // 1.5*2^23 trick: rint, ties even
    return Half{static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(rounded))};
  }
  // Normal: drop 13 mantissa bits with round-to-nearest-even, re-bias the exponent (127 -> 15).
  const std::uint32_t lsb = (abs_bits >> 13) & 1u;
  const std::uint32_t rounded = abs_bits + 0xfffu + lsb;
  return Half{static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13))};
}

float bf16_to_float(BFloat16 h) { return bits_float(static_cast<std::uint32_t>(h.bits) << 16); }

BFloat16 float_to_bf16(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return BFloat16{static_cast<std::uint16_t>((u >> 16) | 0x40u)};
  const std::uint32_t lsb = (u >> 16) & 1u;
  return BFloat16{static_cast<std::uint16_t>((u + 0x7fffu + lsb) >> 16)};
}

std::uint16_t float_to_16bit(float value, DType dtype) {
  return dtype == DType::kBFloat16 ? float_to_bf16(value).bits : float_to_half(value).bits;
}

float float_from_16bit(std::uint16_t bits, DType dtype) {
  return dtype == DType::kBFloat16 ? bf16_to_float(BFloat16{bits}) : half_to_float(Half{bits});
}

}  // namespace marlin
