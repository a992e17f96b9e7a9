// Host-side fp16 / bf16 <-> fp32 conversions, round-to-nearest-even, so that CPU code (reference
// math, packers, file formats) needs no CUDA headers. Bit patterns match IEEE binary16 and bfloat16.
#pragma once

#include <cstdint>

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

}  // namespace marlin
