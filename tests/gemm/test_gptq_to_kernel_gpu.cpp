// End to end: GPTQ on the GPU -> pack -> the dense kernel, checked against the fp64 reference
// GEMM on the dequantized GPTQ weights.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/cuda_check.h"
#include "gpu_test.h"
#include "marlin/gemm.h"
#include "marlin/gptq.h"
#include "marlin/half.h"
#include "marlin/pack.h"

namespace marlin {
namespace {

template <class T>
T* to_device(const std::vector<T>& host) {
  void* device = nullptr;
  CUDA_CHECK(cudaMalloc(&device, host.size() * sizeof(T)));
  CUDA_CHECK(cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return static_cast<T*>(device);
}

TEST(GptqToKernel, PackedGptqWeightsMultiplyCorrectly) {
  MARLIN_REQUIRE_GPU();
  const int k = 1024;
  const int n = 512;
  const int m = 13;
  const int calibration_rows = 2048;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);

  std::vector<float> weight(static_cast<std::size_t>(n) * k);  // Linear layout: n x k
  for (auto& w : weight) w = 0.02f * normal(rng);
  std::vector<float> calibration(static_cast<std::size_t>(calibration_rows) * k);
  for (auto& x : calibration) x = normal(rng);

  float* weight_device = to_device(weight);
  float* calibration_device = to_device(calibration);
  GptqQuantizer quantizer(k);
  quantizer.add_batch(calibration_device, calibration_rows);
  GptqOptions options;
  options.group_size = 128;
  const QuantizedMatrix quantized = quantizer.quantize(weight_device, n, options);
  CUDA_CHECK(cudaFree(weight_device));
  CUDA_CHECK(cudaFree(calibration_device));
  ASSERT_EQ(quantized.k, k);
  ASSERT_EQ(quantized.n, n);

  const DeviceMatrix packed = upload(pack(quantized));
  std::vector<std::uint16_t> a_half(static_cast<std::size_t>(m) * k);
  std::vector<float> a_value(a_half.size());
  for (std::size_t i = 0; i < a_half.size(); ++i) {
    a_half[i] = float_to_half(normal(rng)).bits;
    a_value[i] = half_to_float(Half{a_half[i]});
  }
  std::uint16_t* a_device = to_device(a_half);
  std::uint16_t* c_device = nullptr;
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&c_device), sizeof(std::uint16_t) * m * n));
  CUDA_CHECK(cudaMemset(c_device, 0xff, sizeof(std::uint16_t) * m * n));  // NaN poison
  Workspace workspace(m, n);
  GemmArgs args;
  args.a = a_device;
  args.m = m;
  args.weights = packed.view();
  args.c = c_device;
  args.workspace = workspace.view();
  gemm(args, nullptr);
  std::vector<std::uint16_t> c(static_cast<std::size_t>(m) * n);
  CUDA_CHECK(cudaMemcpy(c.data(), c_device, c.size() * sizeof(std::uint16_t), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaFree(a_device));
  CUDA_CHECK(cudaFree(c_device));

  const std::vector<double> reference = reference_gemm(a_value, dequantize(quantized), m, n, k);
  double error_sq = 0.0;
  double ref_sq = 0.0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double value = half_to_float(Half{c[i]});
    ASSERT_TRUE(std::isfinite(value)) << "element " << i << " not written or not finite";
    error_sq += (value - reference[i]) * (value - reference[i]);
    ref_sq += reference[i] * reference[i];
  }
  ASSERT_GT(ref_sq, 1.0);
  EXPECT_LT(std::sqrt(error_sq / ref_sq), 1e-3);
}

}  // namespace
}  // namespace marlin
