// Round-to-nearest quantization: every element within half a scale of its original, codes in
// range, scales exactly representable and as small as the rule allows, over thousands of random
// groups including the awkward ones (constant, all zero, all positive, huge, tiny).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "marlin/half.h"
#include "marlin/quant.h"
#include "marlin/status.h"

namespace marlin {
namespace {

bool representable(float value, DType dtype) {
  return dtype == DType::kBFloat16 ? bf16_to_float(float_to_bf16(value)) == value
                                   : half_to_float(float_to_half(value)) == value;
}

// The representable value just below `value` (> 0) in `dtype`.
double previous_representable(float value, DType dtype) {
  if (dtype == DType::kBFloat16) {
    return bf16_to_float(BFloat16{static_cast<std::uint16_t>(float_to_bf16(value).bits - 1)});
  }
  return half_to_float(Half{static_cast<std::uint16_t>(float_to_half(value).bits - 1)});
}

const char* scheme_name(QuantScheme s) {
  switch (s) {
    case QuantScheme::kSymmetricInt4: return "symmetric int4";
    case QuantScheme::kAsymmetricInt4: return "asymmetric int4";
    case QuantScheme::kSymmetricInt8: return "symmetric int8";
  }
  return "?";
}

enum class GroupKind { kNormal, kUniform, kConstant, kZero, kPositive, kNegative, kOutlier };
constexpr int kGroupKinds = 7;

// Fills rows [row0, row0 + rows) of column `col` with one kind of group at magnitude `magnitude`.
void fill_group(std::vector<float>& w, int n, int row0, int rows, int col, GroupKind kind,
                float magnitude, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, magnitude);
  std::uniform_real_distribution<float> uniform(-magnitude, magnitude);
  const float constant = uniform(rng);
  for (int row = row0; row < row0 + rows; ++row) {
    float& v = w[static_cast<std::size_t>(row) * n + col];
    switch (kind) {
      case GroupKind::kNormal: v = normal(rng); break;
      case GroupKind::kUniform: v = uniform(rng); break;
      case GroupKind::kConstant: v = constant; break;
      case GroupKind::kZero: v = 0.0f; break;
      case GroupKind::kPositive: v = magnitude * (1.0f + std::fabs(uniform(rng)) / magnitude); break;
      case GroupKind::kNegative: v = -std::fabs(uniform(rng)); break;
      case GroupKind::kOutlier: v = row == row0 + rows / 2 ? 50.0f * magnitude : uniform(rng); break;
    }
  }
}

struct Checked {
  long long elements = 0;
  long long groups = 0;
};

// Checks every property of quantize_rtn's result on `w`.
void check_quantization(const std::vector<float>& w, int k, int n, QuantScheme scheme,
                        int group_size, DType dtype, const std::string& where, Checked& checked) {
  const QuantizedMatrix q = quantize_rtn(w, k, n, scheme, group_size, dtype);
  ASSERT_NO_THROW(validate(q)) << where;
  const int group = group_size == kPerChannel ? k : group_size;
  const int groups = k / group;
  ASSERT_EQ(q.groups(), groups) << where;
  ASSERT_EQ(q.scales.size(), static_cast<std::size_t>(groups) * n) << where;
  const int max_code = scheme == QuantScheme::kSymmetricInt8 ? 255 : 15;
  const int implicit_zero = scheme == QuantScheme::kSymmetricInt8  ? 128
                            : scheme == QuantScheme::kSymmetricInt4 ? 8
                                                                    : -1;
  if (implicit_zero >= 0) {
    EXPECT_TRUE(q.zeros.empty()) << where;
  }
  for (int g = 0; g < groups; ++g) {
    for (int col = 0; col < n; ++col) {
      const std::size_t gi = static_cast<std::size_t>(g) * n + col;
      const float scale = q.scales[gi];
      ASSERT_TRUE(std::isfinite(scale) && scale > 0) << where << ": scale " << scale;
      ASSERT_TRUE(representable(scale, dtype)) << where << ": scale " << scale;
      const int zero = implicit_zero >= 0 ? implicit_zero : q.zeros[gi];
      ASSERT_GE(zero, 0) << where;
      ASSERT_LE(zero, max_code) << where;
      double largest = 0, lowest = 0, highest = 0;
      for (int row = g * group; row < (g + 1) * group; ++row) {
        const std::size_t i = static_cast<std::size_t>(row) * n + col;
        const int code = q.q[i];
        ASSERT_LE(code, max_code) << where;
        const double original = w[i];
        const double restored = static_cast<double>(code - zero) * scale;
        ASSERT_LE(std::fabs(original - restored), 0.5 * scale * (1 + 1e-6))
            << where << ": group " << g << " column " << col << " row " << row << " w=" << original
            << " code=" << code << " zero=" << zero << " scale=" << scale;
        largest = std::max(largest, std::fabs(original));
        lowest = std::min(lowest, original);
        highest = std::max(highest, original);
        ++checked.elements;
      }
      // Tight: the next smaller representable scale could not cover the group.
      if (largest > 0) {
        const double needed = implicit_zero >= 0 ? largest / (implicit_zero - 0.5)
                                                 : (highest - lowest) / max_code;
        ASSERT_LT(previous_representable(scale, dtype), needed * (1 + 1e-6))
            << where << ": scale " << scale << " is larger than needed (" << needed << ")";
      } else {
        for (int row = g * group; row < (g + 1) * group; ++row) {
          ASSERT_EQ(q.q[static_cast<std::size_t>(row) * n + col], zero) << where << ": zero group";
        }
      }
      ++checked.groups;
    }
  }
}

TEST(QuantizeRtn, ErrorWithinHalfAScaleOverRandomGroups) {
  std::mt19937 rng(42);
  const QuantScheme schemes[] = {QuantScheme::kSymmetricInt4, QuantScheme::kAsymmetricInt4,
                                 QuantScheme::kSymmetricInt8};
  const int group_sizes[] = {32, 64, 128, kPerChannel};
  const DType dtypes[] = {DType::kFloat16, DType::kBFloat16};
  Checked checked;
  int cases = 0;
  for (QuantScheme scheme : schemes) {
    for (int group_size : group_sizes) {
      for (DType dtype : dtypes) {
        for (int repeat = 0; repeat < 100; ++repeat) {
          const int group = group_size == kPerChannel ? 16 * (1 + repeat % 12) : group_size;
          const int k = group_size == kPerChannel ? group : group * (1 + repeat % 3);
          const int n = 1 + repeat % 7;
          // Magnitudes from tiny (scales below the smallest fp16 normal, down to subnormals and
          // below) to huge (near the top of the type's range: fp16 scales stop at 65504).
          const double log10_lo = dtype == DType::kFloat16 ? -9.0 : -30.0;
          const double log10_hi = dtype == DType::kFloat16 ? 4.5 : 30.0;
          std::uniform_real_distribution<double> log_magnitude(log10_lo, log10_hi);
          std::vector<float> w(static_cast<std::size_t>(k) * n);
          for (int g = 0; g < k / group; ++g) {
            for (int col = 0; col < n; ++col) {
              const auto kind = static_cast<GroupKind>((repeat + g + col) % kGroupKinds);
              const float magnitude = static_cast<float>(
                  kind == GroupKind::kOutlier ? std::pow(10.0, std::min(log_magnitude(rng), 2.5))
                                              : std::pow(10.0, log_magnitude(rng)));
              fill_group(w, n, g * group, group, col, kind, magnitude, rng);
            }
          }
          const std::string where = std::string(scheme_name(scheme)) + " group " +
                                    std::to_string(group_size) + " " +
                                    (dtype == DType::kFloat16 ? "fp16" : "bf16") + " k=" +
                                    std::to_string(k) + " n=" + std::to_string(n) + " case " +
                                    std::to_string(repeat);
          check_quantization(w, k, n, scheme, group_size, dtype, where, checked);
          ++cases;
          if (HasFatalFailure()) return;
        }
      }
    }
  }
  EXPECT_EQ(cases, 3 * 4 * 2 * 100);
  EXPECT_GT(checked.groups, 8000);
  EXPECT_GT(checked.elements, 500000);
}

TEST(QuantizeRtn, SymmetricInt4ByHand) {
  // max |w| = 7.5 -> scale 7.5 / 7.5 = 1 exactly; codes = round(w) + 8, clipped to [0, 15].
  const std::vector<float> w = {-7.5f, -3.0f, 0.0f, 0.4f, 2.6f, 7.0f, 7.5f, 1.5f};
  const auto q = quantize_rtn(w, 8, 1, QuantScheme::kSymmetricInt4, kPerChannel);
  ASSERT_EQ(q.scales.size(), 1u);
  EXPECT_EQ(q.scales[0], 1.0f);
  const std::vector<std::uint8_t> expected = {0, 5, 8, 8, 11, 15, 15, 10};  // 7.5 -> 8 -> clip 15
  EXPECT_EQ(q.q, expected);
}

TEST(QuantizeRtn, AsymmetricInt4ByHand) {
  // Range [-3, 12] -> scale 15 / 15 = 1, zero point 3: codes = w + 3.
  std::vector<float> w = {-3, 0, 1, 2, 5, 8, 11, 12};
  auto q = quantize_rtn(w, 8, 1, QuantScheme::kAsymmetricInt4, kPerChannel);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.zeros[0], 3);
  EXPECT_EQ(q.q, (std::vector<std::uint8_t>{0, 3, 4, 5, 8, 11, 14, 15}));
  // All positive, far from 0: the range still spans 0 (zero point 0), scale = 15/15 = 1.
  w = {10, 11, 12, 13, 14, 15, 14, 10};
  q = quantize_rtn(w, 8, 1, QuantScheme::kAsymmetricInt4, kPerChannel);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.zeros[0], 0);
  EXPECT_EQ(q.q, (std::vector<std::uint8_t>{10, 11, 12, 13, 14, 15, 14, 10}));
}

TEST(QuantizeRtn, SymmetricInt8ByHand) {
  // max |w| = 127.5 -> scale 1; zero 128.
  const std::vector<float> w = {-127.5f, -1.0f, 0.0f, 100.0f, 127.5f, 3.0f, 2.0f, 1.0f};
  const auto q = quantize_rtn(w, 8, 1, QuantScheme::kSymmetricInt8, kPerChannel);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.q, (std::vector<std::uint8_t>{0, 127, 128, 228, 255, 131, 130, 129}));
}

TEST(QuantizeRtn, ScalesAreRoundedUpToTheScaleType) {
  // max |w| = 1 -> needed scale 1/7.5 = 0.1333...; fp16 rounds it up to 0.13342 (0x3045), bf16 to
  // 0.133789 (0x3e09). For fp16, round-to-nearest would give 0x3044 (0.13330), too small: 1.0
  // would then need code 8 + 7.502 and clip by more than half a scale.
  const std::vector<float> w = {1.0f, -0.5f, 0.25f, 0.0f, 0.0f, 0.0f, 0.0f, -1.0f};
  const auto fp16 = quantize_rtn(w, 8, 1, QuantScheme::kSymmetricInt4, kPerChannel);
  EXPECT_EQ(float_to_half(fp16.scales[0]).bits, 0x3045);
  const auto bf16 =
      quantize_rtn(w, 8, 1, QuantScheme::kSymmetricInt4, kPerChannel, DType::kBFloat16);
  EXPECT_EQ(float_to_bf16(bf16.scales[0]).bits, 0x3e09);
}

TEST(QuantizeRtn, TinyGroupGetsTheSmallestSubnormalScale) {
  const std::vector<float> w(16, 1e-12f);
  const auto q = quantize_rtn(w, 16, 1, QuantScheme::kSymmetricInt4, kPerChannel);
  EXPECT_EQ(float_to_half(q.scales[0]).bits, 0x0001);  // 2^-24
  EXPECT_EQ(q.q[0], 8);
}

TEST(QuantizeRtn, ScaleBeyondTheTypeRangeIsRefused) {
  std::vector<float> w(32, 1.0f);
  w[5] = 1e6f;  // needs a scale of 133333 > 65504
  try {
    quantize_rtn(w, 32, 1, QuantScheme::kSymmetricInt4, 32);
    FAIL() << "an fp16 scale overflow must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("beyond the fp16 range"), std::string::npos) << e.what();
  }
  // bf16 holds it.
  const auto q = quantize_rtn(w, 32, 1, QuantScheme::kSymmetricInt4, 32, DType::kBFloat16);
  EXPECT_GE(q.scales[0], 1e6f / 7.5f);
}

}  // namespace
}  // namespace marlin
