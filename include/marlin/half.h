// Host-side fp16 / bf16 <-> fp32 conversions, round-to-nearest-even, so that CPU code (reference
// math, packers, file formats) needs no CUDA headers. Bit patterns match IEEE binary16 and bfloat16.
#pragma once

#include <cstdint>

#include "marlin/dtype.h"

namespace marlin {

struct Half {
  std::uint16_t bits = 0;
};
struct BFloat16 {
  std::uint16_t bits = 0;
};

float half_to_float(Half h);
Half float_to_half(float f);
float bf16_to_float(BFloat16 h);
BFloat16 float_to_bf16(float f);

// The same for a 16-bit `dtype` chosen at run time: kBFloat16 means bf16, anything else fp16.
std::uint16_t float_to_16bit(float value, DType dtype);
float float_from_16bit(std::uint16_t bits, DType dtype);

}  // namespace marlin
