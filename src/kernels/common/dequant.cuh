// INT4 -> FP16 dequantization by bit manipulation, straight into mma.sync B-fragment order.
// MARLIN paper, section 3 ("dequantization"); PTX ISA "lop3".
//
// An fp16 with exponent field 25 (bits 0x6400) is 1024 + mantissa: OR-ing a 4-bit code q into
// the low mantissa bits gives exactly 1024 + q, and into mantissa bits 4..7 gives 1024 + 16q.
// One lop3 computes (word & mask) | 0x6400 for both halves of a half2 at once:
//
//   word:  .... p7 p6 p5 p4 | p3 p2 p1 p0      (nibbles; layout/packed_format.h says which
//                                               weight each one is)
//   lop3(word, 0x000f000f, 0x64006400) = half2(1024 + p0,      1024 + p4)
//   lop3(word, 0x00f000f0, 0x64006400) = half2(1024 + 16 p1,   1024 + 16 p5)
//
// then subtract the bias 1024 + 8 (fp16 0x6408) from the first, and fma the second with 1/16
// (0x2c00) and -(64 + 8) (0xd480): both give q - 8, the symmetric INT4 value, exact in fp16.
// Shifting the word right by 8 exposes (p2, p6) and (p3, p7) the same way.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/common/mma.cuh"

namespace marlin::ptx {

template <std::uint32_t kLut>
__device__ __forceinline__ std::uint32_t lop3(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  std::uint32_t result;
  asm volatile("lop3.b32 %0, %1, %2, %3, %4;\n" : "=r"(result) : "r"(a), "r"(b), "r"(c), "n"(kLut));
  return result;
}

__device__ __forceinline__ std::uint32_t as_u32(__half2 value) {
  return *reinterpret_cast<std::uint32_t*>(&value);
}
__device__ __forceinline__ __half2 as_half2(std::uint32_t value) {
  return *reinterpret_cast<__half2*>(&value);
}

// One packed word -> the B fragments of two n8 column groups (word w of a lane holds groups 2w
// and 2w+1), values q - 8.
__device__ __forceinline__ void dequant_int4_word_f16(std::uint32_t word, FragmentB& group0,
                                                      FragmentB& group1) {
  constexpr std::uint32_t kLowMask = 0x000f000f;
  constexpr std::uint32_t kHighMask = 0x00f000f0;
  constexpr std::uint32_t kExponent = 0x64006400;
  constexpr std::uint32_t kAndOr = (0xf0 & 0xcc) | 0xaa;  // lop3 truth table of (a & b) | c
  const __half2 bias_low = as_half2(0x64086408);          // 1024 + 8
  const __half2 one_sixteenth = as_half2(0x2c002c00);     // 1/16
  const __half2 bias_high = as_half2(0xd480d480);         // -(64 + 8)

  const std::uint32_t shifted = word >> 8;
  group0.reg[0] = as_u32(__hsub2(as_half2(lop3<kAndOr>(word, kLowMask, kExponent)), bias_low));
  group0.reg[1] = as_u32(__hfma2(as_half2(lop3<kAndOr>(word, kHighMask, kExponent)),
                                 one_sixteenth, bias_high));
  group1.reg[0] = as_u32(__hsub2(as_half2(lop3<kAndOr>(shifted, kLowMask, kExponent)), bias_low));
  group1.reg[1] = as_u32(__hfma2(as_half2(lop3<kAndOr>(shifted, kHighMask, kExponent)),
                                 one_sixteenth, bias_high));
}

// Multiplies a fragment by the scale of its column (both halves of each register share it).
__device__ __forceinline__ void scale_fragment(FragmentB& frag, __half scale) {
  const __half2 scale2 = __half2half2(scale);
  frag.reg[0] = as_u32(__hmul2(as_half2(frag.reg[0]), scale2));
  frag.reg[1] = as_u32(__hmul2(as_half2(frag.reg[1]), scale2));
}

}  // namespace marlin::ptx
