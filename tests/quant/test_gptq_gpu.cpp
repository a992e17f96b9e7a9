// GPTQ on the GPU against the fp64 CPU reference, plus the timing of two real layer shapes.
// Every test starts with MARLIN_REQUIRE_GPU(): without a GPU they skip with a message.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gpu_test.h"
#include "marlin/gptq.h"
#include "marlin/half.h"
#include "marlin/quant.h"
#include "marlin/status.h"
#include "quant/test_gptq_data.h"

namespace marlin {
namespace {

// An owning device copy of a host vector.
template <typename T>
class DeviceCopy {
 public:
  explicit DeviceCopy(const std::vector<T>& host) : bytes_(host.size() * sizeof(T)) {
    EXPECT_EQ(cudaMalloc(&data_, bytes_), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(data_, host.data(), bytes_, cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceCopy() { cudaFree(data_); }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;
  const T* get() const { return static_cast<const T*>(data_); }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

std::vector<float> to_float(const std::vector<double>& values) {
  return std::vector<float>(values.begin(), values.end());
}

std::vector<double> to_double(const std::vector<float>& values) {
  return std::vector<double>(values.begin(), values.end());
}

std::vector<std::uint16_t> to_half_bits(const std::vector<float>& values, bool bf16) {
  std::vector<std::uint16_t> bits(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    bits[i] = bf16 ? float_to_bf16(values[i]).bits : float_to_half(values[i]).bits;
  }
  return bits;
}

std::vector<float> round_through(const std::vector<float>& values, bool bf16) {
  std::vector<float> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    out[i] = bf16 ? bf16_to_float(float_to_bf16(values[i])) : half_to_float(float_to_half(values[i]));
  }
  return out;
}

// Fraction of scales equal, fraction within one fp16 step (the same group range rounded up to a
// neighbouring fp16 value), and the largest relative difference.
struct ScaleAgreement {
  double equal_fraction = 0;
  double within_one_step_fraction = 0;
  double max_relative_difference = 0;
};

ScaleAgreement compare_scales(const QuantizedMatrix& a, const QuantizedMatrix& b) {
  ScaleAgreement agreement;
  std::size_t equal = 0;
  std::size_t within_one_step = 0;
  for (std::size_t i = 0; i < a.scales.size(); ++i) {
    const double difference = std::fabs(static_cast<double>(a.scales[i]) - b.scales[i]) / b.scales[i];
    equal += a.scales[i] == b.scales[i] ? 1 : 0;
    within_one_step += difference <= 1.0 / 1024 + 1e-9 ? 1 : 0;
    agreement.max_relative_difference = std::max(agreement.max_relative_difference, difference);
  }
  const double count = static_cast<double>(a.scales.size());
  agreement.equal_fraction = static_cast<double>(equal) / count;
  agreement.within_one_step_fraction = static_cast<double>(within_one_step) / count;
  return agreement;
}

struct Case {
  int k;
  int n;
  QuantScheme scheme;
  int group_size;
  bool act_order;
  bool mse_clip;
};

std::string describe(const Case& c) {
  return "k=" + std::to_string(c.k) + " n=" + std::to_string(c.n) + " bits=" +
         std::to_string(scheme_bits(c.scheme)) + (scheme_has_zeros(c.scheme) ? " asym" : " sym") +
         " group=" + std::to_string(c.group_size) + (c.act_order ? " act-order" : "") +
         (c.mse_clip ? " mse-clip" : "");
}

const Case kCases[] = {
    {256, 96, QuantScheme::kSymmetricInt4, 128, false, false},
    {384, 200, QuantScheme::kSymmetricInt4, 64, false, false},      // 3 blocks, odd n
    {320, 70, QuantScheme::kAsymmetricInt4, 64, false, false},      // partial last block
    {256, 130, QuantScheme::kSymmetricInt4, 32, true, false},       // act-order + g_idx
    {384, 64, QuantScheme::kSymmetricInt8, kPerChannel, false, false},
    {256, 96, QuantScheme::kAsymmetricInt4, 256, true, false},      // group > block
    {256, 96, QuantScheme::kSymmetricInt4, 128, false, true},       // clip search
};

// The GPU (fp32) and the CPU reference (fp64) get the same fp32 Hessian. On well-conditioned
// (Gaussian) calibration data nearly every code agrees; on LLM-like data (outlier channels,
// condition numbers ~1e4) fp32 and fp64 drift apart a little more, so there the bar is the
// layer's output error instead, plus a looser code agreement.
TEST(GptqGpu, MatchesReferenceOnSmallLayers) {
  MARLIN_REQUIRE_GPU();
  for (const bool llm_like : {false, true}) {
    for (const Case& c : kCases) {
      SCOPED_TRACE(describe(c) + (llm_like ? " llm-like" : " gaussian"));
      const int rows = 4 * c.k;
      std::vector<float> x;
      if (llm_like) {
        x = test::ActivationModel(c.k, 1000 + c.k).sample(rows, 2000 + c.n);
      } else {
        std::mt19937_64 rng(3000 + c.k + c.n);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        x.resize(static_cast<std::size_t>(rows) * c.k);
        for (float& value : x) value = normal(rng);
      }
      const std::vector<float> hessian = to_float(gptq_hessian_reference(x, rows, c.k));
      const std::vector<float> weight = test::random_linear_weight(c.n, c.k, 4000 + c.n);
      GptqOptions options;
      options.scheme = c.scheme;
      options.group_size = c.group_size;
      options.act_order = c.act_order;
      options.mse_clip = c.mse_clip;

      GptqReport cpu_report;
      const QuantizedMatrix cpu = gptq_quantize_reference(weight, c.n, c.k, to_double(hessian),
                                                          options, &cpu_report);
      GptqQuantizer quantizer(c.k);
      const DeviceCopy<float> hessian_device(hessian);
      quantizer.set_hessian(hessian_device.get(), rows);
      const DeviceCopy<float> weight_device(weight);
      GptqReport gpu_report;
      const QuantizedMatrix gpu = quantizer.quantize(weight_device.get(), c.n, options, &gpu_report);

      EXPECT_EQ(gpu_report.damp_retries, cpu_report.damp_retries);
      EXPECT_EQ(gpu_report.identity_fallback, cpu_report.identity_fallback);
      EXPECT_EQ(gpu.g_idx, cpu.g_idx);
      const double codes = test::code_agreement(gpu, cpu);
      const ScaleAgreement scales = compare_scales(gpu, cpu);
      const double gpu_error = test::relative_output_error(x, 512, weight, gpu);
      const double cpu_error = test::relative_output_error(x, 512, weight, cpu);
      std::printf("GPTQ_GPU_VS_CPU %-44s %-9s codes equal %.5f scales equal %.5f, within one "
                  "fp16 step %.5f (max rel diff %.2e) output error gpu %.5f cpu %.5f\n",
                  describe(c).c_str(), llm_like ? "llm-like" : "gaussian", codes,
                  scales.equal_fraction, scales.within_one_step_fraction,
                  scales.max_relative_difference, gpu_error, cpu_error);
      EXPECT_NEAR(gpu_error, cpu_error, 0.02 * cpu_error);
      if (!llm_like && !c.mse_clip) {
        // fp32 vs fp64 only moves a group's range by ~1e-6: a scale that differs is the same
        // range rounded up to the neighbouring fp16 value.
        EXPECT_GE(codes, 0.999);
        EXPECT_GE(scales.equal_fraction, 0.99);
        EXPECT_GE(scales.within_one_step_fraction, 1.0);
      } else {
        // Condition numbers ~1e4 (LLM-like) or the clip search's argmin amplify the fp32 drift
        // (a 1e-5 relative perturbation of H costs ~0.5% of codes in the fp64 reference itself).
        EXPECT_GE(codes, 0.98);
        EXPECT_GE(scales.within_one_step_fraction, 0.95);
      }
      if (scheme_has_zeros(c.scheme)) {
        std::size_t equal = 0;
        for (std::size_t i = 0; i < gpu.zeros.size(); ++i) equal += gpu.zeros[i] == cpu.zeros[i];
        EXPECT_GE(static_cast<double>(equal) / static_cast<double>(gpu.zeros.size()), 0.99);
      }
    }
  }
}

// With H = I nothing is fed back, and the GPU's fp32 grid math must then equal quantize_rtn's
// bit for bit (the same float operations in the same order).
TEST(GptqGpu, IdentityHessianEqualsRtn) {
  MARLIN_REQUIRE_GPU();
  const int k = 256;
  const int n = 72;
  std::vector<float> identity(static_cast<std::size_t>(k) * k, 0.0f);
  for (int i = 0; i < k; ++i) identity[static_cast<std::size_t>(i) * k + i] = 1.0f;
  const std::vector<float> weight = test::random_linear_weight(n, k, 5);
  const std::vector<float> weight_kn = test::transpose_linear(weight, n, k);
  const DeviceCopy<float> identity_device(identity);
  const DeviceCopy<float> weight_device(weight);
  GptqQuantizer quantizer(k);
  quantizer.set_hessian(identity_device.get());
  for (QuantScheme scheme : {QuantScheme::kSymmetricInt4, QuantScheme::kAsymmetricInt4,
                             QuantScheme::kSymmetricInt8}) {
    for (DType scale_dtype : {DType::kFloat16, DType::kBFloat16}) {
      GptqOptions options;
      options.scheme = scheme;
      options.group_size = 64;
      options.scale_dtype = scale_dtype;
      const QuantizedMatrix gpu = quantizer.quantize(weight_device.get(), n, options);
      const QuantizedMatrix rtn = quantize_rtn(weight_kn, k, n, scheme, 64, scale_dtype);
      EXPECT_EQ(gpu.q, rtn.q) << "bits " << scheme_bits(scheme);
      EXPECT_EQ(gpu.scales, rtn.scales);
      EXPECT_EQ(gpu.zeros, rtn.zeros);
    }
  }
}

// add_batch in batches of different sizes (fp32, fp16 and bf16 activations) accumulates the
// same Hessian as the fp64 reference on all rows at once.
TEST(GptqGpu, HessianAccumulatesBatches) {
  MARLIN_REQUIRE_GPU();
  const int k = 192;
  const int batch_rows[] = {100, 37, 300, 1};
  int total_rows = 0;
  for (int rows : batch_rows) total_rows += rows;
  const test::ActivationModel model(k, 77);
  const std::vector<float> x = model.sample(total_rows, 78);
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    const bool is_half = dtype != DType::kFloat32;
    const bool bf16 = dtype == DType::kBFloat16;
    const std::vector<float> x_seen = is_half ? round_through(x, bf16) : x;
    const std::vector<double> expected = gptq_hessian_reference(x_seen, total_rows, k);
    GptqQuantizer quantizer(k);
    int offset = 0;
    for (int rows : batch_rows) {
      const auto begin = x.begin() + static_cast<std::ptrdiff_t>(offset) * k;
      const std::vector<float> batch(begin, begin + static_cast<std::ptrdiff_t>(rows) * k);
      if (is_half) {
        const DeviceCopy<std::uint16_t> device(to_half_bits(batch, bf16));
        quantizer.add_batch(device.get(), dtype, rows);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // add_batch is asynchronous
      } else {
        const DeviceCopy<float> device(batch);
        quantizer.add_batch(device.get(), rows);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      }
      offset += rows;
    }
    EXPECT_EQ(quantizer.samples(), total_rows);
    const std::vector<float> actual = quantizer.hessian();
    double largest = 0;
    for (double value : expected) largest = std::max(largest, std::fabs(value));
    ASSERT_GT(largest, 1.0);
    for (std::size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(actual[i], expected[i], 2e-5 * largest) << "dtype " << dtype_name(dtype) << " " << i;
    }
  }
}

// fp16 / bf16 weights give exactly the result of the fp32 weights they represent.
TEST(GptqGpu, HalfPrecisionWeights) {
  MARLIN_REQUIRE_GPU();
  const int k = 256;
  const int n = 64;
  const std::vector<float> x = test::ActivationModel(k, 81).sample(1024, 82);
  const DeviceCopy<float> x_device(x);
  GptqQuantizer quantizer(k);
  quantizer.add_batch(x_device.get(), 1024);
  const std::vector<float> weight = test::random_linear_weight(n, k, 83);
  GptqOptions options;
  options.act_order = true;
  for (bool bf16 : {false, true}) {
    const DeviceCopy<std::uint16_t> half_weight(to_half_bits(weight, bf16));
    const DeviceCopy<float> rounded_weight(round_through(weight, bf16));
    const QuantizedMatrix from_half = quantizer.quantize(
        half_weight.get(), bf16 ? DType::kBFloat16 : DType::kFloat16, n, options);
    const QuantizedMatrix from_float = quantizer.quantize(rounded_weight.get(), n, options);
    EXPECT_EQ(from_half.q, from_float.q);
    EXPECT_EQ(from_half.scales, from_float.scales);
    EXPECT_EQ(from_half.g_idx, from_float.g_idx);
  }
}

// Dead inputs, a non-positive-definite Hessian (one retry) and hopeless ones (RTN fallback):
// the GPU reports what the reference reports and never returns NaN.
TEST(GptqGpu, DeadInputsRetriesAndFallback) {
  MARLIN_REQUIRE_GPU();
  const int k = 128;
  const int n = 40;
  const std::vector<float> weight = test::random_linear_weight(n, k, 91);
  const DeviceCopy<float> weight_device(weight);
  GptqOptions options;
  options.group_size = 32;

  std::vector<float> x = test::ActivationModel(k, 92).sample(512, 93);
  for (int r = 0; r < 512; ++r) x[static_cast<std::size_t>(r) * k + 9] = 0.0f;
  std::vector<float> dead_hessian = to_float(gptq_hessian_reference(x, 512, k));

  std::vector<float> negative = to_float(gptq_hessian_reference(
      test::ActivationModel(k, 94).sample(32, 95), 32, k));
  double mean_diagonal = 0;
  for (int i = 0; i < k; ++i) mean_diagonal += negative[static_cast<std::size_t>(i) * k + i] / k;
  for (int i = 0; i < k; ++i) {
    negative[static_cast<std::size_t>(i) * k + i] -= static_cast<float>(0.05 * mean_diagonal);
  }
  std::vector<float> not_a_number(static_cast<std::size_t>(k) * k, 0.0f);
  for (int i = 0; i < k; ++i) not_a_number[static_cast<std::size_t>(i) * k + i] = 1.0f;
  not_a_number[static_cast<std::size_t>(5) * k + 2] = std::nanf("");
  std::vector<float> nan_diagonal = dead_hessian;
  nan_diagonal[static_cast<std::size_t>(3) * k + 3] = std::nanf("");

  struct Expectation {
    const char* name;
    const std::vector<float>* hessian;
  };
  for (const Expectation& e : {Expectation{"dead input 9", &dead_hessian},
                               Expectation{"5% negative", &negative},
                               Expectation{"NaN entry", &not_a_number},
                               Expectation{"NaN diagonal", &nan_diagonal}}) {
    SCOPED_TRACE(e.name);
    GptqReport cpu_report;
    const QuantizedMatrix cpu =
        gptq_quantize_reference(weight, n, k, to_double(*e.hessian), options, &cpu_report);
    const DeviceCopy<float> hessian_device(*e.hessian);
    GptqQuantizer quantizer(k);
    quantizer.set_hessian(hessian_device.get());
    int warnings = 0;
    GptqOptions counted = options;
    counted.on_warning = [&](const std::string&) { ++warnings; };
    GptqReport gpu_report;
    const QuantizedMatrix gpu = quantizer.quantize(weight_device.get(), n, counted, &gpu_report);
    EXPECT_EQ(gpu_report.dead_inputs, cpu_report.dead_inputs);
    EXPECT_EQ(gpu_report.damp_retries, cpu_report.damp_retries);
    EXPECT_EQ(gpu_report.identity_fallback, cpu_report.identity_fallback);
    EXPECT_EQ(static_cast<std::size_t>(warnings), cpu_report.warnings.size());
    EXPECT_GE(test::code_agreement(gpu, cpu), 0.99);
    for (float value : dequantize(gpu)) ASSERT_TRUE(std::isfinite(value));
  }
}

TEST(GptqGpu, RejectsBadArguments) {
  MARLIN_REQUIRE_GPU();
  GptqQuantizer quantizer(128);
  const DeviceCopy<float> weight(std::vector<float>(128 * 8, 0.5f));
  GptqOptions options;
  EXPECT_THROW(quantizer.quantize(weight.get(), 8, options), Error);  // no calibration data yet
  std::vector<float> identity(128 * 128, 0.0f);
  for (int i = 0; i < 128; ++i) identity[static_cast<std::size_t>(i) * 128 + i] = 1.0f;
  const DeviceCopy<float> identity_device(identity);
  quantizer.set_hessian(identity_device.get());
  options.group_size = 48;
  EXPECT_THROW(quantizer.quantize(weight.get(), 8, options), Error);
  options = GptqOptions{};
  EXPECT_THROW(quantizer.quantize(weight.get(), DType::kInt32, 8, options), Error);
  EXPECT_THROW(quantizer.add_batch(weight.get(), 0), Error);
  std::vector<float> infinite(128 * 8, 0.5f);
  infinite[17] = INFINITY;
  const DeviceCopy<float> infinite_device(infinite);
  EXPECT_THROW(quantizer.quantize(infinite_device.get(), 8, options), Error);
}

// Fast, cheap pseudo-random values for the large timing layers (std::normal_distribution over
// 235M values would dominate the test).
std::vector<float> cheap_random(std::size_t count, std::uint64_t seed, float scale) {
  std::vector<float> values(count);
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& value : values) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    // Sum of two uniforms: a triangular distribution on (-1, 1), zero mean.
    const float a = static_cast<float>(state & 0xFFFFFF) / 16777216.0f;
    const float b = static_cast<float>((state >> 24) & 0xFFFFFF) / 16777216.0f;
    value = (a + b - 1.0f) * scale;
  }
  return values;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Not a pass/fail on speed: prints `GPTQ_TIME` lines. Targets on an H100: 4096 x 4096 under 1 s,
// n = 28672 (out) x k = 8192 (in) (Llama-2-70B's gate/up projection) under 10 s.
TEST(GptqGpu, TimingOfRealLayerShapes) {
  MARLIN_REQUIRE_GPU();
  struct Shape {
    int n;
    int k;
    bool act_order;
  };
  const Shape shapes[] = {{4096, 4096, false}, {4096, 4096, true}, {28672, 8192, false},
                          {28672, 8192, true}};
  for (const Shape& shape : shapes) {
    const int k = shape.k;
    const int n = shape.n;
    GptqQuantizer quantizer(k);
    // Calibration: 2 k rows of activations with per-channel magnitudes, in batches of 2048 rows.
    const int batch = 2048;
    const int batches = 2 * k / batch;
    std::vector<float> channel = cheap_random(static_cast<std::size_t>(k), 7, 1.0f);
    for (float& c : channel) c = 0.2f + std::fabs(c) * 3.0f;
    double upload_seconds = 0;
    for (int b = 0; b < batches; ++b) {
      std::vector<float> x = cheap_random(static_cast<std::size_t>(batch) * k, 100 + b, 1.0f);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] *= channel[i % k];
      const auto upload_start = std::chrono::steady_clock::now();
      const DeviceCopy<float> x_device(x);
      quantizer.add_batch(x_device.get(), batch);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      upload_seconds += seconds_since(upload_start);
    }
    const std::vector<float> weight =
        cheap_random(static_cast<std::size_t>(n) * k, 9, 1.0f / std::sqrt(static_cast<float>(k)));
    const DeviceCopy<float> weight_device(weight);
    GptqOptions options;
    options.act_order = shape.act_order;
    GptqReport report;
    double best = 1e30;
    const int repeats = n * static_cast<long long>(k) <= 4096LL * 4096 ? 3 : 1;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      const QuantizedMatrix q = quantizer.quantize(weight_device.get(), n, options, &report);
      best = std::min(best, seconds_since(start));
      ASSERT_EQ(q.q.size(), static_cast<std::size_t>(n) * k);
    }
    std::printf("GPTQ_TIME n=%d (out) k=%d (in) int4 sym group=128 act_order=%d: quantize %.3f s "
                "(best of %d, incl. the k x k factorization and copying codes to the host); "
                "add_batch of %d x %d rows incl. upload %.3f s; damp retries %d\n",
                n, k, shape.act_order ? 1 : 0, best, repeats, batches, batch, upload_seconds,
                report.damp_retries);
    EXPECT_EQ(report.damp_retries, 0);
    EXPECT_FALSE(report.identity_fallback);
  }
}

}  // namespace
}  // namespace marlin
