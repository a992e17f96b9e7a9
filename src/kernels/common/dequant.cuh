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
// mask 0x00f000f0 gives 1024 + 16 q, and one fma with 1/16 and -(64 + z) gives q - z.
// INT8 codes use prmt instead of lop3 (a byte, not a nibble, goes into the mantissa); bf16 has
// too few mantissa bits for a byte, so INT8 -> bf16 goes through fp32 (0x4b000000 = 2^23).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

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
};
struct Bf16 {
  using Scalar = __nv_bfloat16;
  using Pair = __nv_bfloat162;
  static constexpr std::uint32_t kMagic = 0x43004300;  // 128 in both halves
};

// What dequantization subtracts for a column group's zero point z, in both halves of a register:
//   even: magic + z, subtracted from the even nibbles' (magic + q);
//   odd:  -(64 + z), fp16 only: the bias of the fma that takes the odd nibbles' 1024 + 16 q
//         (no shift) to q - z, as -(64 + 8) does for symmetric codes (see the top).
struct ZeroTerms {
  std::uint32_t even;
  std::uint32_t odd;
};

// The terms of symmetric codes (zero 8), constants the compiler folds into the instructions.
template <class E>
__device__ __forceinline__ ZeroTerms symmetric_zero_terms() {
  return {E::kMagic | 0x00080008u, 0xd480d480u};  // fp16 0xd480 = -(64 + 8)
}

// Zero terms are made two column groups at a time, one group per half of each register (any z
// < 16), and a group's terms are its half in both halves (zero_terms). That broadcast costs no
// instruction: ptxas folds it into the HADD2 / HFMA2 that subtracts the term (operand .H0_H0 or
// .H1_H1, SASS sm_80 and sm_90a). One prmt per term with a selector per byte, as before, cost a
// register copy of each selector every main-loop trip as well (docs/dense-kernel-notes.md).
struct ZeroTermPair {
  std::uint32_t even;  // (magic + z_low, magic + z_high)
  std::uint32_t odd;   // (-(64 + z_low), -(64 + z_high)), fp16 only
};

// The pair of the zero points in bits 0-3 (low half) and 16-19 (high half) of `zero_codes`; the
// other bits are ignored, so bytes b and b + 2 of a word of zero bytes are zero_codes = word >> 8b.
template <class E>
__device__ __forceinline__ ZeroTermPair zero_term_pair(std::uint32_t zero_codes) {
  // The codes' own lop3, on the zero points (written as C, the and and the or became two LOP3s).
  const std::uint32_t even = lop3<kAndOr>(zero_codes, kLowNibbles, E::kMagic);
  std::uint32_t odd = 0;
  if constexpr (std::is_same_v<E, Fp16>) {
    // 960 - (1024 + z) = -(64 + z): one HADD2 with an immediate; exact, as every value is an
    // integer below 2048. Its bits, 0xd400 | (z << 4), are those the fma's bias needs.
    const __half2 nine_sixty = from_bits<__half2>(0x63806380);
    odd = bits_of(__hsub2(nine_sixty, from_bits<__half2>(even)));
  }
  return {even, odd};
}

// The pair of two adjacent zero bytes (a 16-bit load): byte 0 low, byte 1 high. Multiplying by
// 0x101 adds a copy of the bytes one byte up, which puts byte 1 in bits 16-23; bits 8-15 get
// the sum of the two (below 32, no carry), which the mask drops.
template <class E>
__device__ __forceinline__ ZeroTermPair zero_term_pair_of_two(std::uint32_t zero_bytes) {
  return zero_term_pair<E>(zero_bytes * 0x101u);
}

// The terms of the group in half `high` (0: low) of `pair`, in both halves of each register.
template <class E>
__device__ __forceinline__ ZeroTerms zero_terms(ZeroTermPair pair, int high) {
  using Pair = typename E::Pair;
  const auto broadcast = [&](std::uint32_t bits) {
    const Pair both = from_bits<Pair>(bits);
    const typename E::Scalar value = high ? both.y : both.x;
    return bits_of(Pair{value, value});
  };
  return {broadcast(pair.even), broadcast(pair.odd)};
}

// INT4 word -> B fragments of column groups (group0, group1) = (2w, 2w + 1) of the word's lane,
// values q - z for each group's zero terms.
template <class E>
__device__ __forceinline__ void dequant_int4_word(std::uint32_t word, ZeroTerms zero0,
                                                  ZeroTerms zero1, FragmentB& group0,
                                                  FragmentB& group1);

// fp16 without shifting the odd nibbles: mask 0x00f000f0 leaves 1024 + 16 q, and one fma with
// 1/16 and -(64 + z) gives q - z (exact: every step is an integer, or 64 + q, under 2048).
template <>
__device__ __forceinline__ void dequant_int4_word<Fp16>(std::uint32_t word, ZeroTerms zero0,
                                                        ZeroTerms zero1, FragmentB& group0,
                                                        FragmentB& group1) {
  constexpr std::uint32_t kHighMask = 0x00f000f0;
  const __half2 one_sixteenth = from_bits<__half2>(0x2c002c00);
  const auto even = [](std::uint32_t bits, std::uint32_t subtrahend) {
    const std::uint32_t biased = lop3<kAndOr>(bits, kLowNibbles, Fp16::kMagic);
    return bits_of(__hsub2(from_bits<__half2>(biased), from_bits<__half2>(subtrahend)));
  };
  const auto odd = [&](std::uint32_t bits, std::uint32_t bias) {
    const std::uint32_t biased = lop3<kAndOr>(bits, kHighMask, Fp16::kMagic);
    return bits_of(__hfma2(from_bits<__half2>(biased), one_sixteenth, from_bits<__half2>(bias)));
  };
  const std::uint32_t shifted = word >> 8;
  group0.reg[0] = even(word, zero0.even);
  group0.reg[1] = odd(word, zero0.odd);
  group1.reg[0] = even(shifted, zero1.even);
  group1.reg[1] = odd(shifted, zero1.odd);
}

// bf16 (too few mantissa bits for 128 + 16 q): every nibble shifted down, then subtracted.
template <>
__device__ __forceinline__ void dequant_int4_word<Bf16>(std::uint32_t word, ZeroTerms zero0,
                                                        ZeroTerms zero1, FragmentB& group0,
                                                        FragmentB& group1) {
  const auto code_pair = [&](int shift, std::uint32_t subtrahend) {
    const std::uint32_t biased = lop3<kAndOr>(word >> shift, kLowNibbles, Bf16::kMagic);
    return bits_of(__hsub2(from_bits<__nv_bfloat162>(biased),
                           from_bits<__nv_bfloat162>(subtrahend)));
  };
  group0.reg[0] = code_pair(0, zero0.even);
  group0.reg[1] = code_pair(4, zero0.even);
  group1.reg[0] = code_pair(8, zero1.even);
  group1.reg[1] = code_pair(12, zero1.even);
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
