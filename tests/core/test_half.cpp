#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "marlin/half.h"

namespace marlin {
namespace {

TEST(Half, EveryFiniteHalfRoundTripsThroughFloat) {
  int checked = 0;
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const Half h{static_cast<std::uint16_t>(bits)};
    const float f = half_to_float(h);
    if (std::isnan(f)) {
      EXPECT_EQ(bits & 0x7c00u, 0x7c00u);
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    ASSERT_EQ(float_to_half(f).bits, bits) << "value " << f;
    ++checked;
  }
  EXPECT_EQ(checked, 0x10000 - 2 * 1023);
}

TEST(Half, KnownValues) {
  EXPECT_EQ(float_to_half(1.0f).bits, 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f).bits, 0xc000);
  EXPECT_EQ(float_to_half(65504.0f).bits, 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f).bits, 0x7c00);  // rounds to infinity
  EXPECT_EQ(float_to_half(5.9604645e-8f).bits, 0x0001);  // smallest subnormal
  EXPECT_FLOAT_EQ(half_to_float(Half{0x3555}), 0.33325195f);
}

TEST(Half, RoundsToNearestEven) {
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1.0).
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);
  // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even).
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-60000.0f, 60000.0f);
  for (int i = 0; i < 100000; ++i) {
    const float f = dist(rng);
    const float rounded = half_to_float(float_to_half(f));
    // The neighbours of the result are no closer to f.
    const Half h = float_to_half(f);
    const float up = half_to_float(Half{static_cast<std::uint16_t>(h.bits + 1)});
    const float down = half_to_float(Half{static_cast<std::uint16_t>(h.bits - 1)});
    ASSERT_LE(std::fabs(rounded - f), std::fabs(up - f)) << f;
    ASSERT_LE(std::fabs(rounded - f), std::fabs(down - f)) << f;
  }
}

TEST(BFloat16, RoundTripAndRounding) {
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const BFloat16 b{static_cast<std::uint16_t>(bits)};
    const float f = bf16_to_float(b);
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_bf16(f).bits, bits);
  }
  EXPECT_EQ(float_to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);      // tie -> even
  EXPECT_EQ(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);  // tie -> even
}

}  // namespace
}  // namespace marlin
