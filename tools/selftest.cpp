// `marlin selftest`: quantize (RTN, symmetric INT4, group 128), pack and multiply a built-in
// random layer, and check the result against the fp64 reference on the dequantized weights:
//
//   reference = A_fp16 * dequant(quantize(W))        (fp64, src/quant/reference.cpp)
//   result    = marlin::gemm(A_fp16, pack(...))      on a GPU of compute capability 8.0+
//             = A_fp16 * dequant(unpack(pack(...)))  fp32 accumulation, fp16 output, otherwise
//
// Passes when the relative Frobenius error is below 1e-3 (an fp16 output alone contributes about
// 3e-4). Exit code 0 on success, 1 on failure, 77 when --gpu is asked for and no GPU path exists.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "marlin/device.h"
#include "marlin/half.h"
#include "marlin/pack.h"
#include "marlin/quant.h"
#include "marlin/status.h"
#if MARLIN_HAVE_GEMM
#include <cuda_runtime_api.h>

#include "core/cuda_check.h"
#include "marlin/gemm.h"
#endif

namespace {

constexpr int kSkipExitCode = 77;  // CTest's SKIP_RETURN_CODE for the GPU variant
constexpr double kTolerance = 1e-3;

struct SelftestOptions {
  int m = 16;
  int k = 4096;
  int n = 4096;
  unsigned seed = 2026;
  bool force_cpu = false;
  bool force_gpu = false;
};

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Why the GPU path cannot run here, or "" when it can.
std::string gpu_unavailable_reason() {
  if (!MARLIN_HAVE_GEMM) return "this build has no GEMM kernels";
  if (marlin::cuda_device_count() == 0) return marlin::cuda_unavailable_reason();
  const marlin::DeviceInfo device = marlin::current_device();
  if (device.compute_capability() < 80) {
    return fmt::format("{} has compute capability {}.{}", device.name, device.cc_major,
                       device.cc_minor);
  }
  return "";
}

#if MARLIN_HAVE_GEMM
// A device allocation that frees itself.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t bytes) { CUDA_CHECK(cudaMalloc(&data_, bytes)); }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
};

std::vector<float> gpu_result(const std::vector<marlin::Half>& a_fp16,
                              const marlin::PackedMatrix& packed, int m) {
  const marlin::DeviceInfo device = marlin::current_device();
  fmt::print("path: GPU, marlin::gemm on {} (compute capability {}.{})\n", device.name,
             device.cc_major, device.cc_minor);
  const marlin::DeviceMatrix weights = marlin::upload(packed);
  marlin::Workspace workspace(m, packed.n);
  const std::size_t c_count = static_cast<std::size_t>(m) * packed.n;
  DeviceBuffer a(a_fp16.size() * sizeof(marlin::Half));
  DeviceBuffer c(c_count * sizeof(marlin::Half));
  CUDA_CHECK(cudaMemcpy(a.data(), a_fp16.data(), a_fp16.size() * sizeof(marlin::Half),
                        cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemset(c.data(), 0xff, c_count * sizeof(marlin::Half)));  // poison: NaN
  marlin::GemmArgs args;
  args.a = a.data();
  args.activation_dtype = marlin::DType::kFloat16;
  args.m = m;
  args.weights = weights.view();
  args.c = c.data();
  args.workspace = workspace.view();
  marlin::gemm(args, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<marlin::Half> c_host(c_count);
  CUDA_CHECK(cudaMemcpy(c_host.data(), c.data(), c_count * sizeof(marlin::Half),
                        cudaMemcpyDeviceToHost));
  std::vector<float> result(c_count);
  for (std::size_t i = 0; i < c_count; ++i) result[i] = marlin::half_to_float(c_host[i]);
  return result;
}
#endif

// The CPU stand-in for the kernel: the packed weights read back through unpack(), fp32
// accumulation, fp16 output.
std::vector<float> cpu_result(const std::vector<float>& a, const marlin::PackedMatrix& packed,
                              int m) {
  const std::vector<float> w = marlin::dequantize(marlin::unpack(packed));
  const int k = packed.k;
  const int n = packed.n;
  std::vector<float> result(static_cast<std::size_t>(m) * n);
  std::vector<float> row(static_cast<std::size_t>(n));
  for (int i = 0; i < m; ++i) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (int l = 0; l < k; ++l) {
      const float a_value = a[static_cast<std::size_t>(i) * k + l];
      const float* w_row = &w[static_cast<std::size_t>(l) * n];
      for (int j = 0; j < n; ++j) row[j] += a_value * w_row[j];
    }
    for (int j = 0; j < n; ++j) {
      result[static_cast<std::size_t>(i) * n + j] =
          marlin::half_to_float(marlin::float_to_half(row[j]));
    }
  }
  return result;
}

int run_selftest(const SelftestOptions& options) {
  const int m = options.m, k = options.k, n = options.n;
  fmt::print("marlin selftest: C[{}x{}] = A[{}x{}] * W[{}x{}], symmetric INT4, group 128, fp16 "
             "(seed {})\n", m, n, m, k, k, n, options.seed);
  std::string reason = options.force_cpu ? "--cpu given" : gpu_unavailable_reason();
  if (options.force_gpu && !reason.empty()) {
    fmt::print("SKIP: --gpu asked for the GPU path, but it cannot run: {}\n", reason);
    return kSkipExitCode;
  }

  Stopwatch watch;
  std::mt19937 rng(options.seed);
  std::normal_distribution<float> weight_distribution(0.0f, 0.02f);
  std::vector<float> w(static_cast<std::size_t>(k) * n);
  for (auto& v : w) v = weight_distribution(rng);
  std::normal_distribution<float> activation_distribution(0.0f, 1.0f);
  std::vector<marlin::Half> a_fp16(static_cast<std::size_t>(m) * k);
  std::vector<float> a(a_fp16.size());  // the fp16 values, as fp32
  for (std::size_t i = 0; i < a.size(); ++i) {
    a_fp16[i] = marlin::float_to_half(activation_distribution(rng));
    a[i] = marlin::half_to_float(a_fp16[i]);
  }

  const marlin::QuantizedMatrix quantized =
      marlin::quantize_rtn(w, k, n, marlin::QuantScheme::kSymmetricInt4, 128);
  const marlin::PackedMatrix packed = marlin::pack(quantized);
  const std::vector<float> dequantized = marlin::dequantize(quantized);
  double weight_error = 0, weight_norm = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    weight_error += (w[i] - dequantized[i]) * static_cast<double>(w[i] - dequantized[i]);
    weight_norm += w[i] * static_cast<double>(w[i]);
  }
  fmt::print("quantize + pack: {:.2f} s, {:.1f} MiB of codes, {:.2f} MiB of scales; RTN weight "
             "error {:.3f} (relative, informational)\n",
             watch.seconds(), static_cast<double>(packed.qweight.size()) * 4.0 / (1 << 20),
             static_cast<double>(packed.scales.size()) * 2.0 / (1 << 20), std::sqrt(weight_error / weight_norm));

  const std::vector<double> reference = marlin::reference_gemm(a, dequantized, m, n, k);

  std::vector<float> result;
#if MARLIN_HAVE_GEMM
  if (reason.empty()) result = gpu_result(a_fp16, packed, m);
#endif
  if (!reason.empty()) {
    fmt::print("path: CPU reference (the kernels need an NVIDIA GPU of compute capability 8.0 or "
               "newer: {})\n", reason);
    result = cpu_result(a, packed, m);
  }

  double error = 0, norm = 0, max_abs = 0;
  bool finite = true;
  for (std::size_t i = 0; i < result.size(); ++i) {
    const double difference = result[i] - reference[i];
    finite = finite && std::isfinite(result[i]);
    error += difference * difference;
    norm += reference[i] * reference[i];
    max_abs = std::max(max_abs, std::fabs(difference));
  }
  const double relative = norm > 0 ? std::sqrt(error / norm) : INFINITY;
  const bool pass = finite && norm > 0 && relative < kTolerance;
  fmt::print("relative Frobenius error vs fp64 reference: {:.3e} (limit {:.0e}), max |diff| "
             "{:.3e}{}\n", relative, kTolerance, max_abs, finite ? "" : ", NON-FINITE OUTPUT");
  fmt::print("{} ({:.1f} s)\n", pass ? "PASS" : "FAIL", watch.seconds());
  return pass ? 0 : 1;
}

}  // namespace

void add_selftest_command(CLI::App& app) {
  auto options = std::make_shared<SelftestOptions>();
  CLI::App* command = app.add_subcommand(
      "selftest", "Quantize, pack and multiply a random layer; check it against the reference");
  command->add_option("--m", options->m, "rows of A (batch)")->check(CLI::PositiveNumber);
  command->add_option("--k", options->k, "input features (multiple of 128)")
      ->check(CLI::PositiveNumber);
  command->add_option("--n", options->n, "output features (multiple of 128)")
      ->check(CLI::PositiveNumber);
  command->add_option("--seed", options->seed, "random seed");
  auto* cpu = command->add_flag("--cpu", options->force_cpu, "use the CPU reference path");
  command->add_flag("--gpu", options->force_gpu,
                    "require the GPU path (exit code 77 when it cannot run)")
      ->excludes(cpu);
  command->callback([options] {
    marlin::require(options->k % 128 == 0 && options->n % 128 == 0,
                    fmt::format("selftest: k={} and n={} must be multiples of 128", options->k,
                                options->n));
    const int code = run_selftest(*options);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}
