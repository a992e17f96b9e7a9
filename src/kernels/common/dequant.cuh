// Quantized codes -> fp16/bf16 by bit manipulation, straight into mma.sync B-fragment order.
// MARLIN paper, section 3 ("dequantization"); PTX ISA "lop3", "prmt".
//
// The magic-number trick. A 16-bit float whose exponent field says "2^e" and whose mantissa
// field holds an integer q IS the number 2^e + q * ulp. OR-ing a code into the low mantissa
// bits therefore converts it exactly, with no conversion instruction:
//
//   fp16 0x6400 = 1024 (ulp 1):   0x6400 | q = 1024 + q     for q < 1024
//   bf16 0x4300 = 128  (ulp 1):   0x4300 | q = 128 + q      for q < 128 (INT4 only)
//
// One lop3 computes (word & mask) | magic for both halves of a 32-bit register at once; the
// packed layout (layout/packed_format.h) puts the two codes of one B-fragment register 16 bits
// apart, so the result is that register, low half first:
//
//   word:  .... p7 p6 p5 p4 | p3 p2 p1 p0      (nibbles)
//   lop3(word, 0x000f000f, magic)       = (magic + p0, magic + p4)
//   lop3(word >> 4, 0x000f000f, magic)  = (magic + p1, magic + p5)      and so on
//
// Subtracting (magic + zero) leaves q - zero, exact. fp16 saves the shifts for the odd nibbles:
// mask 0x00f000f0 gives 1024 + 16 q, and one fma with 1/16 and -(64 + 8) gives q - 8.
// INT8 codes use prmt instead of lop3 (a byte, not a nibble, goes into the mantissa); bf16 has
// too few mantissa bits for a byte, so INT8 -> bf16 goes through fp32 (0x4b000000 = 2^23).
#pragma once

#include <cuda_bf16.h>
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

// Bytes of (a, b) picked by the four selector nibbles (0-3: a's bytes, 4-7: b's), low byte first.
__device__ __forceinline__ std::uint32_t prmt(std::uint32_t a, std::uint32_t b, std::uint32_t selector) {
  std::uint32_t result;
  asm volatile("prmt.b32 %0, %1, %2, %3;\n" : "=r"(result) : "r"(a), "r"(b), "r"(selector));
  return result;
}

template <class V>
__device__ __forceinline__ std::uint32_t bits_of(V value) {
  return *reinterpret_cast<std::uint32_t*>(&value);
}
template <class V>
__device__ __forceinline__ V from_bits(std::uint32_t value) {
  return *reinterpret_cast<V*>(&value);
}

constexpr std::uint32_t kAndOr = (0xf0 & 0xcc) | 0xaa;  // lop3 truth table of (a & b) | c
constexpr std::uint32_t kLowNibbles = 0x000f000f;

// The two 16-bit activation types, with what their dequantization needs.
struct Fp16 {
  using Scalar = __half;
  using Pair = __half2;
  static constexpr std::uint32_t kMagic = 0x64006400;  // 1024 in both halves
  static constexpr std::uint8_t kMagicHighByte = 0x64;
};
struct Bf16 {
  using Scalar = __nv_bfloat16;
  using Pair = __nv_bfloat162;
  static constexpr std::uint32_t kMagic = 0x43004300;  // 128 in both halves
  static constexpr std::uint8_t kMagicHighByte = 0x43;
};

// (magic + z) in both halves of a register, for a zero point z < 16 held in byte `index` of
// `zero_bytes`: one prmt puts z under the magic's high byte.
template <class E>
__device__ __forceinline__ std::uint32_t zero_subtrahend(std::uint32_t zero_bytes, int index) {
  const std::uint32_t magic_bytes = E::kMagicHighByte * 0x01010101u;
  // Result bytes (low first): z, magic, z, magic.
  return prmt(zero_bytes, magic_bytes, 0x4040u | (0x0101u * static_cast<std::uint32_t>(index)));
}

// INT4 word -> B fragments of column groups (group0, group1) = (2w, 2w + 1) of the word's lane,
// values q - z where `subtrahend0/1` = (magic + z) of each group's column.
template <class E>
__device__ __forceinline__ void dequant_int4_word(std::uint32_t word, std::uint32_t subtrahend0,
                                                  std::uint32_t subtrahend1, FragmentB& group0,
                                                  FragmentB& group1) {
  using Pair = typename E::Pair;
  const auto code_pair = [&](int shift, std::uint32_t subtrahend) {
    const std::uint32_t biased = lop3<kAndOr>(word >> shift, kLowNibbles, E::kMagic);
    return bits_of(__hsub2(from_bits<Pair>(biased), from_bits<Pair>(subtrahend)));
  };
  group0.reg[0] = code_pair(0, subtrahend0);
  group0.reg[1] = code_pair(4, subtrahend0);
  group1.reg[0] = code_pair(8, subtrahend1);
  group1.reg[1] = code_pair(12, subtrahend1);
}

// The symmetric fp16 case (zero 8) without the shifts of the odd nibbles (see the top).
__device__ __forceinline__ void dequant_int4_word_symmetric_f16(std::uint32_t word,
                                                                FragmentB& group0,
                                                                FragmentB& group1) {
  constexpr std::uint32_t kHighMask = 0x00f000f0;
  const __half2 bias_low = from_bits<__half2>(0x64086408);       // 1024 + 8
  const __half2 one_sixteenth = from_bits<__half2>(0x2c002c00);  // 1/16
  const __half2 bias_high = from_bits<__half2>(0xd480d480);      // -(64 + 8)
  const std::uint32_t shifted = word >> 8;
  group0.reg[0] = bits_of(__hsub2(from_bits<__half2>(lop3<kAndOr>(word, kLowNibbles, Fp16::kMagic)),
                                  bias_low));
  group0.reg[1] = bits_of(__hfma2(from_bits<__half2>(lop3<kAndOr>(word, kHighMask, Fp16::kMagic)),
                                  one_sixteenth, bias_high));
  group1.reg[0] = bits_of(
      __hsub2(from_bits<__half2>(lop3<kAndOr>(shifted, kLowNibbles, Fp16::kMagic)), bias_low));
  group1.reg[1] = bits_of(__hfma2(
      from_bits<__half2>(lop3<kAndOr>(shifted, kHighMask, Fp16::kMagic)), one_sixteenth, bias_high));
}

// INT8 word of one column group (bytes: rows 2r, 2r+1, 2r+8, 2r+9) -> its B fragment, q - 128.
template <class E>
__device__ __forceinline__ void dequant_int8_word(std::uint32_t word, FragmentB& group);

template <>
__device__ __forceinline__ void dequant_int8_word<Fp16>(std::uint32_t word, FragmentB& group) {
  const __half2 bias = from_bits<__half2>(0x64806480);  // 1024 + 128
  // Result bytes (low first): code, 0x64, code, 0x64.
  group.reg[0] = bits_of(__hsub2(from_bits<__half2>(prmt(word, 0x64646464u, 0x4140u)), bias));
  group.reg[1] = bits_of(__hsub2(from_bits<__half2>(prmt(word, 0x64646464u, 0x4342u)), bias));
}

template <>
__device__ __forceinline__ void dequant_int8_word<Bf16>(std::uint32_t word, FragmentB& group) {
  // 0x4b000000 | code = 2^23 + code as fp32; subtracting 2^23 + 128 is exact, and q - 128 fits
  // bf16's 8 significant bits.
  constexpr float kBias = 8388608.0f + 128.0f;
  const auto code = [&](std::uint32_t selector) {
    return __uint_as_float(prmt(word, 0x4b000000u, selector)) - kBias;
  };
  // Result bytes (low first): code byte i, 0, 0, 0x4b.
  group.reg[0] = bits_of(__floats2bfloat162_rn(code(0x7440u), code(0x7441u)));
  group.reg[1] = bits_of(__floats2bfloat162_rn(code(0x7442u), code(0x7443u)));
}

// Multiplies a fragment by the scale of its column (both halves of each register share it).
template <class E>
__device__ __forceinline__ void scale_fragment(FragmentB& frag, typename E::Scalar scale) {
  using Pair = typename E::Pair;
  const Pair scale2 = Pair{scale, scale};
  frag.reg[0] = bits_of(__hmul2(from_bits<Pair>(frag.reg[0]), scale2));
  frag.reg[1] = bits_of(__hmul2(from_bits<Pair>(frag.reg[1]), scale2));
}

}  // namespace marlin::ptx
