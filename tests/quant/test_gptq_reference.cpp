// The fp64 GPTQ reference: it beats RTN on LLM-like calibration data, equals RTN with an identity
// Hessian, and handles act-order, dead inputs, non-positive-definite Hessians and bad options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "marlin/gptq.h"
#include "marlin/quant.h"
#include "marlin/status.h"
#include "quant/test_gptq_data.h"

namespace marlin {
namespace {

using test::ActivationModel;

std::vector<double> identity_hessian(int k) {
  std::vector<double> h(static_cast<std::size_t>(k) * k, 0.0);
  for (int i = 0; i < k; ++i) h[static_cast<std::size_t>(i) * k + i] = 1.0;
  return h;
}

bool all_finite(const QuantizedMatrix& q) {
  for (float s : q.scales) {
    if (!std::isfinite(s) || !(s > 0)) return false;
  }
  for (float v : dequantize(q)) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

struct Config {
  const char* name;
  QuantScheme scheme;
  int group_size;
  bool act_order;
  bool mse_clip;
};

// GPTQ's promise: on correlated activations with outlier channels the layer's output error is
// well below RTN's at the same grid. Measured on held-out rows of the same distribution.
TEST(GptqReference, BeatsRtnOnStructuredActivations) {
  const int k = 256;
  const int n = 128;
  const int calibration_rows = 512;
  const int evaluation_rows = 256;
  const Config configs[] = {
      {"int4 sym g128", QuantScheme::kSymmetricInt4, 128, false, false},
      {"int4 sym g32", QuantScheme::kSymmetricInt4, 32, false, false},
      {"int4 asym g128", QuantScheme::kAsymmetricInt4, 128, false, false},
      {"int4 sym per-channel", QuantScheme::kSymmetricInt4, kPerChannel, false, false},
      {"int4 sym g128 act-order", QuantScheme::kSymmetricInt4, 128, true, false},
      {"int4 sym g32 act-order", QuantScheme::kSymmetricInt4, 32, true, false},
      {"int4 sym g128 mse-clip", QuantScheme::kSymmetricInt4, 128, false, true},
      {"int8 sym per-channel", QuantScheme::kSymmetricInt8, kPerChannel, false, false},
  };
  std::printf("GPTQ_VS_RTN k=%d n=%d calibration_rows=%d evaluation_rows=%d\n", k, n,
              calibration_rows, evaluation_rows);
  std::printf("GPTQ_VS_RTN | %-24s | seed | RTN rel. error | GPTQ rel. error | GPTQ / RTN |\n",
              "config");
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const ActivationModel model(k, 100 + seed);
    const std::vector<float> calibration = model.sample(calibration_rows, 200 + seed);
    const std::vector<float> evaluation = model.sample(evaluation_rows, 300 + seed);
    const std::vector<double> hessian = gptq_hessian_reference(calibration, calibration_rows, k);
    const std::vector<float> weight = test::random_linear_weight(n, k, 400 + seed);
    const std::vector<float> weight_kn = test::transpose_linear(weight, n, k);
    for (const Config& config : configs) {
      GptqOptions options;
      options.scheme = config.scheme;
      options.group_size = config.group_size;
      options.act_order = config.act_order;
      options.mse_clip = config.mse_clip;
      GptqReport report;
      const QuantizedMatrix gptq = gptq_quantize_reference(weight, n, k, hessian, options, &report);
      const QuantizedMatrix rtn = quantize_rtn(weight_kn, k, n, config.scheme, config.group_size);
      const double rtn_error = test::relative_output_error(evaluation, evaluation_rows, weight, rtn);
      const double gptq_error =
          test::relative_output_error(evaluation, evaluation_rows, weight, gptq);
      const double ratio = gptq_error / rtn_error;
      std::printf("GPTQ_VS_RTN | %-24s | %4d | %14.5f | %15.5f | %10.3f |\n", config.name,
                  static_cast<int>(seed), rtn_error, gptq_error, ratio);
      EXPECT_EQ(report.damp_retries, 0) << config.name;
      EXPECT_FALSE(report.identity_fallback) << config.name;
      EXPECT_GT(rtn_error, 0.0) << config.name;  // the comparison is not trivial
      EXPECT_LT(ratio, 0.7) << config.name << " seed " << seed;
    }
  }
}

// With H = I no error is fed back (U is diagonal), so GPTQ must reproduce quantize_rtn exactly:
// this pins the grid conventions (scales rounded up to fp16/bf16, zeros, clamping) to RTN's.
TEST(GptqReference, IdentityHessianEqualsRtn) {
  const int k = 128;
  const int n = 48;
  const std::vector<float> weight = test::random_linear_weight(n, k, 7);
  const std::vector<float> weight_kn = test::transpose_linear(weight, n, k);
  struct Case {
    QuantScheme scheme;
    int group_size;
    DType scale_dtype;
  };
  const Case cases[] = {{QuantScheme::kSymmetricInt4, 32, DType::kFloat16},
                        {QuantScheme::kAsymmetricInt4, 64, DType::kFloat16},
                        {QuantScheme::kSymmetricInt8, kPerChannel, DType::kFloat16},
                        {QuantScheme::kSymmetricInt4, 128, DType::kBFloat16},
                        {QuantScheme::kAsymmetricInt4, 32, DType::kBFloat16}};
  for (const Case& c : cases) {
    GptqOptions options;
    options.scheme = c.scheme;
    options.group_size = c.group_size;
    options.scale_dtype = c.scale_dtype;
    const QuantizedMatrix gptq =
        gptq_quantize_reference(weight, n, k, identity_hessian(k), options);
    const QuantizedMatrix rtn = quantize_rtn(weight_kn, k, n, c.scheme, c.group_size, c.scale_dtype);
    EXPECT_EQ(gptq.q, rtn.q) << "scheme " << scheme_bits(c.scheme) << " group " << c.group_size;
    EXPECT_EQ(gptq.scales, rtn.scales);
    EXPECT_EQ(gptq.zeros, rtn.zeros);
  }
}

// Lazy batch updates only reorder the arithmetic: block sizes 1, 32 and 128 give the same codes
// when groups align with blocks (here group 32 and per-channel).
TEST(GptqReference, BlockSizeDoesNotChangeTheResult) {
  const int k = 192;  // one full block of 128 and a partial one
  const int n = 40;
  const ActivationModel model(k, 11);
  const std::vector<float> x = model.sample(400, 12);
  const std::vector<double> hessian = gptq_hessian_reference(x, 400, k);
  const std::vector<float> weight = test::random_linear_weight(n, k, 13);
  for (int group_size : {32, kPerChannel}) {
    GptqOptions options;
    options.group_size = group_size;
    options.block_size = 1;
    const QuantizedMatrix unblocked = gptq_quantize_reference(weight, n, k, hessian, options);
    for (int block_size : {32, 128}) {
      options.block_size = block_size;
      const QuantizedMatrix blocked = gptq_quantize_reference(weight, n, k, hessian, options);
      EXPECT_GE(test::code_agreement(blocked, unblocked), 0.999)
          << "group " << group_size << " block " << block_size;
      for (std::size_t i = 0; i < blocked.scales.size(); ++i) {
        ASSERT_NEAR(blocked.scales[i], unblocked.scales[i], 1e-3 * unblocked.scales[i]) << i;
      }
    }
  }
}

// Act-order with groups: g_idx is in the original feature order, every group holds group_size
// features, groups follow the descending Hessian diagonal, and the result dequantizes.
TEST(GptqReference, ActOrderProducesValidGroupIndex) {
  const int k = 256;
  const int n = 32;
  const int group_size = 32;
  const ActivationModel model(k, 21);
  const std::vector<float> x = model.sample(512, 22);
  const std::vector<double> hessian = gptq_hessian_reference(x, 512, k);
  const std::vector<float> weight = test::random_linear_weight(n, k, 23);
  GptqOptions options;
  options.group_size = group_size;
  options.act_order = true;
  const QuantizedMatrix q = gptq_quantize_reference(weight, n, k, hessian, options);
  validate(q);
  ASSERT_EQ(q.g_idx.size(), static_cast<std::size_t>(k));
  ASSERT_EQ(q.groups(), k / group_size);
  std::vector<int> members(static_cast<std::size_t>(k / group_size), 0);
  for (int i = 0; i < k; ++i) ++members[static_cast<std::size_t>(q.g_idx[i])];
  for (int count : members) EXPECT_EQ(count, group_size);
  // Group g holds features with larger diagonals than group g + 1.
  std::vector<double> smallest(members.size(), 1e300);
  std::vector<double> largest(members.size(), -1e300);
  for (int i = 0; i < k; ++i) {
    const double d = hessian[static_cast<std::size_t>(i) * k + i];
    const std::size_t g = static_cast<std::size_t>(q.g_idx[i]);
    smallest[g] = std::min(smallest[g], d);
    largest[g] = std::max(largest[g], d);
  }
  for (std::size_t g = 0; g + 1 < members.size(); ++g) EXPECT_GE(smallest[g], largest[g + 1]) << g;
  // The outlier channels (largest diagonals) are quantized first, with group 0's scales.
  const int top = static_cast<int>(std::max_element(smallest.begin(), smallest.end()) - smallest.begin());
  EXPECT_EQ(top, 0);
  // Codes and g_idx fit together: every feature's dequantized weights are near the originals
  // (GPTQ moves weights by a few grid steps at most), and the layer error beats RTN's.
  const std::vector<float> dequantized = dequantize(q);
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < n; ++j) {
      const float scale = q.scales[static_cast<std::size_t>(q.g_idx[i]) * n + j];
      const float original = weight[static_cast<std::size_t>(j) * k + i];
      ASSERT_LE(std::fabs(dequantized[static_cast<std::size_t>(i) * n + j] - original), 8.0f * scale)
          << "feature " << i << " output " << j;
    }
  }
  const std::vector<float> evaluation = model.sample(256, 24);
  const QuantizedMatrix rtn =
      quantize_rtn(test::transpose_linear(weight, n, k), k, n, QuantScheme::kSymmetricInt4, group_size);
  EXPECT_LT(test::relative_output_error(evaluation, 256, weight, q),
            0.7 * test::relative_output_error(evaluation, 256, weight, rtn));
}

// A feature that is always zero has H_ii = 0: its weights become exactly 0 and nothing is NaN.
TEST(GptqReference, DeadInputsAreZeroed) {
  const int k = 128;
  const int n = 24;
  const ActivationModel model(k, 31);
  std::vector<float> x = model.sample(300, 32);
  const int dead_features[] = {0, 5, 77, 127};
  for (int r = 0; r < 300; ++r) {
    for (int f : dead_features) x[static_cast<std::size_t>(r) * k + f] = 0.0f;
  }
  const std::vector<double> hessian = gptq_hessian_reference(x, 300, k);
  const std::vector<float> weight = test::random_linear_weight(n, k, 33);
  for (bool act_order : {false, true}) {
    for (QuantScheme scheme : {QuantScheme::kSymmetricInt4, QuantScheme::kAsymmetricInt4}) {
      GptqOptions options;
      options.scheme = scheme;
      options.group_size = 32;
      options.act_order = act_order;
      GptqReport report;
      const QuantizedMatrix q = gptq_quantize_reference(weight, n, k, hessian, options, &report);
      EXPECT_EQ(report.dead_inputs, 4);
      EXPECT_EQ(report.damp_retries, 0);
      ASSERT_TRUE(all_finite(q));
      const std::vector<float> dequantized = dequantize(q);
      for (int f : dead_features) {
        for (int j = 0; j < n; ++j) {
          EXPECT_EQ(dequantized[static_cast<std::size_t>(f) * n + j], 0.0f) << f << "," << j;
        }
      }
    }
  }
}

// A Hessian with a negative eigenvalue of 5% of the mean diagonal fails with 1% dampening and
// succeeds with 10%: one retry, one warning, finite weights.
TEST(GptqReference, NonPositiveDefiniteHessianIsRetried) {
  const int k = 64;
  const int n = 16;
  const ActivationModel model(k, 41);
  const std::vector<float> x = model.sample(32, 42);  // rank <= 32 < k: singular
  std::vector<double> hessian = gptq_hessian_reference(x, 32, k);
  double mean_diagonal = 0;
  for (int i = 0; i < k; ++i) mean_diagonal += hessian[static_cast<std::size_t>(i) * k + i] / k;
  for (int i = 0; i < k; ++i) hessian[static_cast<std::size_t>(i) * k + i] -= 0.05 * mean_diagonal;
  const std::vector<float> weight = test::random_linear_weight(n, k, 43);
  std::vector<std::string> warnings;
  GptqOptions options;
  options.group_size = 32;
  options.on_warning = [&](const std::string& message) { warnings.push_back(message); };
  GptqReport report;
  const QuantizedMatrix q = gptq_quantize_reference(weight, n, k, hessian, options, &report);
  EXPECT_EQ(report.damp_retries, 1);
  EXPECT_DOUBLE_EQ(report.damp_fraction_used, 0.1);
  EXPECT_FALSE(report.identity_fallback);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("not positive definite"), std::string::npos) << warnings[0];
  EXPECT_EQ(report.warnings, warnings);
  EXPECT_TRUE(all_finite(q));
}

// Hessians no dampening can rescue (strongly negative, or NaN) fall back to RTN with a warning.
TEST(GptqReference, HopelessHessianFallsBackToRtn) {
  const int k = 64;
  const int n = 16;
  const std::vector<float> weight = test::random_linear_weight(n, k, 51);
  const QuantizedMatrix rtn =
      quantize_rtn(test::transpose_linear(weight, n, k), k, n, QuantScheme::kSymmetricInt4, 32);
  std::vector<double> negative = identity_hessian(k);
  negative[0] = -1e6;  // eigenvalue far below anything 10^4 x 1% x mean diagonal can lift
  std::vector<double> not_a_number = identity_hessian(k);
  not_a_number[static_cast<std::size_t>(3) * k + 1] = std::nan("");
  for (const std::vector<double>* hessian : {&negative, &not_a_number}) {
    GptqOptions options;
    options.group_size = 32;
    GptqReport report;
    const QuantizedMatrix q = gptq_quantize_reference(weight, n, k, *hessian, options, &report);
    EXPECT_TRUE(report.identity_fallback);
    EXPECT_EQ(report.damp_retries, options.max_damp_retries);
    EXPECT_EQ(report.warnings.size(), static_cast<std::size_t>(options.max_damp_retries + 1));
    EXPECT_TRUE(all_finite(q));
    EXPECT_EQ(q.q, rtn.q);
  }
  // A NaN on the diagonal with act-order: the order stays well defined, the result finite.
  std::vector<double> nan_diagonal = identity_hessian(k);
  nan_diagonal[static_cast<std::size_t>(7) * k + 7] = std::nan("");
  GptqOptions options;
  options.group_size = 32;
  options.act_order = true;
  GptqReport report;
  const QuantizedMatrix q = gptq_quantize_reference(weight, n, k, nan_diagonal, options, &report);
  EXPECT_TRUE(report.identity_fallback);
  EXPECT_TRUE(all_finite(q));
  EXPECT_EQ(q.g_idx[7], k / 32 - 1);  // sorted last
}

// With H = I the weights are not moved, so the clip search (norm 2) can only lower each group's
// squared weight error; on Gaussian weights with 5x entries it lowers the total clearly.
TEST(GptqReference, MseClipLowersGroupErrorWithIdentityHessian) {
  const int k = 128;
  const int n = 64;
  const std::vector<float> weight = test::random_linear_weight(n, k, 61);
  for (QuantScheme scheme : {QuantScheme::kSymmetricInt4, QuantScheme::kAsymmetricInt4}) {
    GptqOptions options;
    options.scheme = scheme;
    options.group_size = 32;
    const QuantizedMatrix plain = gptq_quantize_reference(weight, n, k, identity_hessian(k), options);
    options.mse_clip = true;
    options.clip_norm = 2.0;
    const QuantizedMatrix clipped =
        gptq_quantize_reference(weight, n, k, identity_hessian(k), options);
    const std::vector<float> plain_dq = dequantize(plain);
    const std::vector<float> clipped_dq = dequantize(clipped);
    double plain_total = 0;
    double clipped_total = 0;
    int shrunk_groups = 0;
    for (int g = 0; g < k / 32; ++g) {
      for (int j = 0; j < n; ++j) {
        double plain_error = 0;
        double clipped_error = 0;
        for (int i = g * 32; i < (g + 1) * 32; ++i) {
          const double w = weight[static_cast<std::size_t>(j) * k + i];
          plain_error += std::pow(plain_dq[static_cast<std::size_t>(i) * n + j] - w, 2);
          clipped_error += std::pow(clipped_dq[static_cast<std::size_t>(i) * n + j] - w, 2);
        }
        ASSERT_LE(clipped_error, plain_error * (1 + 1e-9)) << "group " << g << " output " << j;
        plain_total += plain_error;
        clipped_total += clipped_error;
        const std::size_t index = static_cast<std::size_t>(g) * n + j;
        shrunk_groups += clipped.scales[index] < plain.scales[index] ? 1 : 0;
      }
    }
    EXPECT_LT(clipped_total, 0.95 * plain_total);
    EXPECT_GT(shrunk_groups, 0);
  }
}

TEST(GptqReference, HessianIsTwiceTheMeanOuterProduct) {
  // Two rows of three features: H = 2/2 * (x1 x1^T + x2 x2^T).
  const std::vector<float> x = {1, 2, 0, -1, 0, 3};
  const std::vector<double> h = gptq_hessian_reference(x, 2, 3);
  const std::vector<double> expected = {2, 2, -3, 2, 4, 0, -3, 0, 9};
  EXPECT_EQ(h, expected);
}

TEST(GptqReference, RejectsBadArguments) {
  const int k = 128;
  const int n = 8;
  const std::vector<float> weight(static_cast<std::size_t>(n) * k, 0.5f);
  const std::vector<double> hessian = identity_hessian(k);
  auto message_of = [&](GptqOptions options, const std::vector<float>& w) -> std::string {
    try {
      gptq_quantize_reference(w, n, k, hessian, options);
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
      return error.what();
    }
    return "no error";
  };
  GptqOptions options;
  options.group_size = 48;
  EXPECT_NE(message_of(options, weight).find("k=128 must be a multiple of group_size=48"),
            std::string::npos);
  options = GptqOptions{};
  options.block_size = 256;
  EXPECT_NE(message_of(options, weight).find("block_size=256"), std::string::npos);
  options = GptqOptions{};
  options.damp_fraction = 0;
  EXPECT_NE(message_of(options, weight).find("damp_fraction"), std::string::npos);
  options = GptqOptions{};
  options.scale_dtype = DType::kFloat32;
  EXPECT_NE(message_of(options, weight).find("scale_dtype"), std::string::npos);
  EXPECT_NE(message_of(GptqOptions{}, std::vector<float>(10)).find("expected n*k=1024"),
            std::string::npos);
  std::vector<float> huge = weight;
  huge[3] = 1e9f;  // needs a scale far beyond fp16
  EXPECT_NE(message_of(GptqOptions{}, huge).find("beyond the scale dtype's range"),
            std::string::npos);
  std::vector<float> infinite = weight;
  infinite[0] = INFINITY;
  EXPECT_NE(message_of(GptqOptions{}, infinite).find("non-finite"), std::string::npos);
}

}  // namespace
}  // namespace marlin
