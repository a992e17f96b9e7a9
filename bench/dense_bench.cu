// marlin_bench_dense: the dense FP16 x INT4 GEMM against FP16 cuBLASLt, per linear layer of
// Llama-2-7B, Llama-3-8B, Llama-2-70B and one large matrix, for m = 1 .. 1024.
//
// For every layer: random packed INT4 weights (and their fp16 dequantization for cuBLAS), rotated
// over enough device copies that every launch reads its weights from DRAM (timing.h says how one
// time is taken), one sanity check that both compute the same C, then for every m the median time
// of marlin::gemm and of the fastest of cuBLASLt's heuristic candidates. Output: a CSV row per
// (layer, m) and a markdown summary per model under --out-dir (see bench/results/README.md).
#include <CLI/CLI.hpp>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "cublas_baseline.h"
#include "cuda_resources.h"
#include "dense_models.h"
#include "marlin/device.h"
#include "marlin/gemm.h"
#include "marlin/half.h"
#include "random_weights.h"
#include "report.h"
#include "timing.h"
#include "weight_copies.h"

namespace marlin::bench {
namespace {

constexpr const char* kKernelName = "marlin_dense_fp16_int4";
constexpr std::size_t kCublasWorkspaceBytes = 32u << 20;  // 32 MiB
constexpr std::size_t kCopyBandwidthBytes = 1u << 30;     // 1 GiB
constexpr double kCheckTolerance = 1e-2;                  // relative Frobenius norm
constexpr int kCheckM = 16;

struct Options {
  std::vector<std::string> models;
  std::vector<int> m_values{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  int group_size = 128;
  std::string out_dir = "bench/results";
  bool quick = false;
  int iters = 50;    // launches per timed sample
  int samples = 10;  // timed samples; the median is reported
  int candidates = 8;
  std::string timing = "graph";
  std::string cublas_weights = "nk";
  int device = 0;
  std::uint64_t seed = 1234;
};

struct Device {
  std::string name;
  std::size_t l2_bytes = 0;
};

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &local);
  return text;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<float> download_fp16(const DeviceBuffer& buffer, std::size_t count) {
  std::vector<std::uint16_t> bits(count);
  CUDA_CHECK(cudaMemcpy(bits.data(), buffer.data(), count * sizeof(std::uint16_t),
                        cudaMemcpyDeviceToHost));
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = half_to_float(Half{bits[i]});
  return values;
}

// ||C_marlin - C_cublas||_F / ||C_cublas||_F; NaN where either output holds NaN (the outputs are
// poisoned with NaN before the launches, so an output a kernel did not write fails the check).
double relative_frobenius(const std::vector<float>& ours, const std::vector<float>& reference) {
  double difference = 0.0;
  double norm = 0.0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const double delta = static_cast<double>(ours[i]) - static_cast<double>(reference[i]);
    difference += delta * delta;
    norm += static_cast<double>(reference[i]) * static_cast<double>(reference[i]);
  }
  return norm > 0.0 ? std::sqrt(difference / norm) : std::nan("");
}

struct LayerResult {
  std::vector<DenseRow> rows;
  std::string check;
  bool check_passed = false;
};

class DenseBench {
 public:
  DenseBench(const Options& options, Device device, TimingPlan plan, WeightLayout layout)
      : options_(options), device_(std::move(device)), plan_(plan), layout_(layout),
        lt_(kCublasWorkspaceBytes) {}

  TimingMethod method() const { return plan_.method; }

  LayerResult run_layer(const std::string& model, const LayerShape& layer, std::uint64_t seed,
                        double copy_tb_s, const std::string& gpu, const std::string& date,
                        std::vector<std::string>& failures) {
    const int k = layer.k;
    const int n = layer.n;
    const int max_m = *std::max_element(options_.m_values.begin(), options_.m_values.end());
    const auto host_start = std::chrono::steady_clock::now();
    RandomLayer host = make_random_layer(k, n, options_.group_size, layout_, seed);
    const std::vector<std::uint16_t> host_a =
        random_fp16(static_cast<std::size_t>(max_m) * k, seed ^ 0xa11ceull);
    const double host_seconds = seconds_since(host_start);

    // Each kernel's copies may use a third of the free memory; activations, outputs and the
    // workspaces are small beside them.
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const MarlinWeightCopies marlin_weights(host.packed, device_.l2_bytes, free_bytes / 3);
    const Fp16WeightCopies fp16_weights(host.dequantized, device_.l2_bytes, free_bytes / 3);
    host = RandomLayer{};  // the host copies can go; the check needs only the device ones

    DeviceBuffer a(host_a.size() * sizeof(std::uint16_t));
    CUDA_CHECK(cudaMemcpy(a.data(), host_a.data(), a.bytes(), cudaMemcpyHostToDevice));
    const std::size_t c_bytes = static_cast<std::size_t>(max_m) * n * sizeof(std::uint16_t);
    DeviceBuffer c_marlin(c_bytes);
    DeviceBuffer c_cublas(c_bytes);
    Workspace workspace(max_m, n);
    fmt::print("\n{} {} (k={}, n={}): host data {:.1f} s; weights rotated over {} packed copies "
               "({:.1f} MiB each) and {} fp16 copies\n",
               model, layer.name, k, n, host_seconds, marlin_weights.views().size(),
               static_cast<double>(marlin_weights.bytes()) / (1 << 20), fp16_weights.count());

    const auto marlin_launch = [&](int m) {
      return [&, m](int index, cudaStream_t stream) {
        GemmArgs args;
        args.a = a.data();
        args.activation_dtype = DType::kFloat16;
        args.m = m;
        const auto& views = marlin_weights.views();
        args.weights = views[static_cast<std::size_t>(index) % views.size()];
        args.c = c_marlin.data();
        args.workspace = workspace.data();
        args.workspace_bytes = workspace.bytes();
        gemm(args, stream);
      };
    };
    const auto cublas_launch = [&](const CublasLtGemm& problem, cublasLtMatmulAlgo_t algo) {
      return [&problem, algo, &a, &fp16_weights, &c_cublas](int index, cudaStream_t stream) {
        problem.run(algo, a.data(), fp16_weights.copy(index), c_cublas.data(), stream);
      };
    };

    LayerResult result;
    // Sanity check: both outputs poisoned with NaN (0xffff), one launch each on copy 0.
    {
      const int m = std::min(kCheckM, max_m);
      const CublasLtGemm problem(lt_, m, n, k, layout_);
      const auto algos = problem.heuristic_algos(1);
      CUDA_CHECK(cudaMemsetAsync(c_marlin.data(), 0xff, c_bytes, stream_.get()));
      CUDA_CHECK(cudaMemsetAsync(c_cublas.data(), 0xff, c_bytes, stream_.get()));
      marlin_launch(m)(0, stream_.get());
      cublas_launch(problem, algos[0])(0, stream_.get());
      CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
      const std::size_t count = static_cast<std::size_t>(m) * n;
      const double error =
          relative_frobenius(download_fp16(c_marlin, count), download_fp16(c_cublas, count));
      result.check_passed = error <= kCheckTolerance;
      result.check = fmt::format("{} {} k={} n={} m={}: relative Frobenius difference {:.2e} "
                                 "(tolerance {:.0e}): {}",
                                 model, layer.name, k, n, m, error, kCheckTolerance,
                                 result.check_passed ? "OK" : "FAILED");
      fmt::print("  check: {}\n", result.check);

      if (plan_.method == TimingMethod::kGraph && !graph_probed_) {
        graph_probed_ = true;
        std::string why;
        if (!can_capture(marlin_launch(m), stream_.get(), &why) ||
            !can_capture(cublas_launch(problem, algos[0]), stream_.get(), &why)) {
          fmt::print("  warning: CUDA graph capture failed ({}); timing every kernel of this run "
                     "with a plain loop of launches instead\n",
                     why);
          plan_.method = TimingMethod::kLoop;
        }
      }
    }

    for (const int m : options_.m_values) {
      double marlin_us = 0.0;
      try {
        marlin_us = median_launch_us(marlin_launch(m), plan_, stream_.get());
      } catch (const Error& error) {
        if (error.code() == ErrorCode::kCuda) throw;  // the context may be unusable: stop
        failures.push_back(fmt::format("{} {} k={} n={} m={}: marlin::gemm refused: {}", model,
                                       layer.name, k, n, m, error.what()));
        fmt::print("  m={:5}: marlin::gemm refused: {}\n", m, error.what());
        continue;
      }
      const double cublas_us = time_cublas(m, n, k, cublas_launch);
      DenseRow row;
      row.gpu = gpu;
      row.date = date;
      row.model = model;
      row.k = k;
      row.n = n;
      row.m = m;
      row.group = options_.group_size;
      row.kernel = kKernelName;
      row.time_us = marlin_us;
      row.fp16_cublas_us = cublas_us;
      row.speedup = cublas_us / marlin_us;
      row.weight_tb_s = static_cast<double>(marlin_weights.bytes()) / (marlin_us * 1e-6) / 1e12;
      row.copy_tb_s = copy_tb_s;
      fmt::print("  m={:5}: marlin {:9.2f} us  cuBLAS {:9.2f} us  speedup {:5.2f}  "
                 "weights {:.2f} TB/s\n",
                 m, marlin_us, cublas_us, row.speedup, row.weight_tb_s);
      std::fflush(stdout);
      result.rows.push_back(row);
    }
    return result;
  }

  cudaStream_t stream() const { return stream_.get(); }

 private:
  // The fastest of the heuristic's candidates, each measured briefly the same way, then the
  // winner measured with the full plan.
  template <typename MakeLaunch>
  double time_cublas(int m, int n, int k, const MakeLaunch& make_launch) {
    const CublasLtGemm problem(lt_, m, n, k, layout_);
    const auto algos = problem.heuristic_algos(options_.candidates);
    TimingPlan selection = plan_;
    selection.samples = std::min(plan_.samples, 3);
    std::size_t best = 0;
    double best_us = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < algos.size() && algos.size() > 1; ++i) {
      try {
        const double us = median_launch_us(make_launch(problem, algos[i]), selection,
                                           stream_.get());
        if (us < best_us) {
          best_us = us;
          best = i;
        }
      } catch (const Error& error) {
        if (error.code() == ErrorCode::kCuda && !is_cublas_refusal(error)) throw;
      }
    }
    return median_launch_us(make_launch(problem, algos[best]), plan_, stream_.get());
  }

  // A candidate cuBLAS declines at launch (not supported for these pointers / this shape) is
  // skipped; any other CUDA error ends the run.
  static bool is_cublas_refusal(const Error& error) {
    const std::string what = error.what();
    return what.find("CUBLAS_STATUS_NOT_SUPPORTED") != std::string::npos ||
           what.find("CUBLAS_STATUS_INVALID_VALUE") != std::string::npos;
  }

  const Options& options_;
  Device device_;
  TimingPlan plan_;
  WeightLayout layout_;
  CublasLt lt_;
  CudaStream stream_;
  bool graph_probed_ = false;
};

void add_options(CLI::App& app, Options& options) {
  std::vector<std::string> model_names;
  for (const auto& model : dense_models()) model_names.push_back(model.name);
  app.add_option("--models", options.models, "models to run (default: all; --quick: llama-2-7b)")
      ->check(CLI::IsMember(model_names));
  app.add_option("--m", options.m_values, "rows of A (default 1 2 4 ... 1024; --quick: 1 16 128)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--group", options.group_size, "quantization group size; -1 = per-channel")
      ->capture_default_str();
  app.add_option("--out-dir", options.out_dir, "where the CSV and markdown go")
      ->capture_default_str();
  app.add_flag("--quick", options.quick,
               "smoke test: fewer launches and samples, llama-2-7b, m in {1, 16, 128}");
  app.add_option("--iters", options.iters, "launches per timed sample (default 50; --quick: 10)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--samples", options.samples,
                 "timed samples, median reported (default 10; --quick: 3)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--candidates", options.candidates,
                 "cuBLASLt heuristic candidates to measure (default 8; --quick: 4)")
      ->check(CLI::Range(1, 64));
  app.add_option("--timing", options.timing, "graph: CUDA graph of --iters launches; loop: plain")
      ->check(CLI::IsMember({"graph", "loop"}))
      ->capture_default_str();
  app.add_option("--cublas-weights", options.cublas_weights,
                 "fp16 weight storage for cuBLAS: nk (torch.nn.Linear, W^T row-major) or kn")
      ->check(CLI::IsMember({"nk", "kn"}))
      ->capture_default_str();
  app.add_option("--device", options.device, "CUDA device index")->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the random data")->capture_default_str();
}

// --quick changes the defaults of the options the user did not give.
void apply_quick_defaults(const CLI::App& app, Options& options) {
  if (!options.quick) return;
  if (app.count("--models") == 0) options.models = {"llama-2-7b"};
  if (app.count("--m") == 0) options.m_values = {1, 16, 128};
  if (app.count("--iters") == 0) options.iters = 10;
  if (app.count("--samples") == 0) options.samples = 3;
  if (app.count("--candidates") == 0) options.candidates = 4;
}

int run(const Options& options) {
  require(options.group_size == kPerChannel || options.group_size > 0,
          "--group=" + std::to_string(options.group_size) + " must be positive or -1");
  if (cuda_device_count() == 0) {
    fmt::print("marlin_bench_dense: skipped: no usable CUDA device ({})\n",
               cuda_unavailable_reason());
    return 0;
  }
  CUDA_CHECK(cudaSetDevice(options.device));
  const DeviceInfo info = current_device();
  if (info.compute_capability() < 80) {
    fmt::print("marlin_bench_dense: skipped: {} has compute capability {}; marlin needs 8.0+\n",
               info.name, info.compute_capability());
    return 0;
  }
  Device device;
  device.name = info.name;
  int l2_bytes = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, options.device));
  device.l2_bytes = static_cast<std::size_t>(l2_bytes);

  const std::string gpu = file_name_of_device(device.name);
  const std::string date = today();
  TimingPlan plan;
  plan.method = options.timing == "loop" ? TimingMethod::kLoop : TimingMethod::kGraph;
  plan.launches_per_sample = options.iters;
  plan.samples = options.samples;
  const WeightLayout layout =
      options.cublas_weights == "kn" ? WeightLayout::kKN : WeightLayout::kNK;

  DenseBench bench(options, device, plan, layout);
  const double copy_tb_s =
      device_copy_tb_s(kCopyBandwidthBytes, std::max(options.samples, 5), bench.stream());
  fmt::print("{} ({}), L2 {:.1f} MiB, device copy {:.3f} TB/s (read + write)\n", device.name,
             date, static_cast<double>(device.l2_bytes) / (1 << 20), copy_tb_s);

  RunInfo run_info;
  run_info.device_name = device.name;
  run_info.date = date;
  run_info.copy_tb_s = copy_tb_s;
  run_info.l2_bytes = static_cast<long long>(device.l2_bytes);
  run_info.group = options.group_size;
  run_info.cublas = fmt::format(
      "cuBLASLt, fp16 A/W/C, CUBLAS_COMPUTE_32F, fp16 weights stored {} ({}), 32 MiB workspace, "
      "fastest measured of up to {} heuristic candidates",
      weight_layout_name(layout), layout == WeightLayout::kNK ? "[n,k], op T" : "[k,n], op N",
      options.candidates);

  std::vector<std::string> model_order;
  std::vector<DenseRow> rows;
  bool all_checks_passed = true;
  std::uint64_t seed = options.seed;
  for (const auto& model : dense_models()) {
    if (!options.models.empty() &&
        std::find(options.models.begin(), options.models.end(), model.name) ==
            options.models.end()) {
      continue;
    }
    model_order.push_back(model.name);
    for (const auto& layer : model.layers) {
      LayerResult result =
          bench.run_layer(model.name, layer, ++seed, copy_tb_s, gpu, date, run_info.failures);
      all_checks_passed = all_checks_passed && result.check_passed;
      run_info.checks.push_back(result.check);
      rows.insert(rows.end(), result.rows.begin(), result.rows.end());
    }
  }
  run_info.timing = fmt::format(
      "{}, {} launches per sample (each on the next weight copy), median of {} samples, after "
      "one warm-up sample",
      timing_method_name(bench.method()), options.iters, options.samples);

  std::filesystem::create_directories(options.out_dir);
  const std::string stem = options.out_dir + "/" + date + "-" + gpu + "-dense";
  write_csv(stem + ".csv", rows);
  const std::string summary = summary_markdown(run_info, model_order, rows);
  write_text(stem + ".md", summary);
  fmt::print("\n{}\nwrote {}.csv and {}.md\n", summary, stem, stem);
  fmt::print("\nspeedup over FP16 cuBLASLt on {} (times summed over each model's layers):\n\n{}",
             device.name, speedup_table(model_order, rows));
  if (!all_checks_passed) {
    fmt::print(stderr, "marlin_bench_dense: a sanity check FAILED (see above): marlin and cuBLAS "
                       "disagree; the times are not meaningful\n");
    return 2;
  }
  return 0;
}

}  // namespace
}  // namespace marlin::bench

int main(int argc, char** argv) {
  CLI::App app{"marlin_bench_dense: dense FP16 x INT4 GEMM vs FP16 cuBLASLt, per layer"};
  marlin::bench::Options options;
  marlin::bench::add_options(app, options);
  CLI11_PARSE(app, argc, argv);
  marlin::bench::apply_quick_defaults(app, options);
  try {
    return marlin::bench::run(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "marlin_bench_dense: error: %s\n", error.what());
    return 1;
  }
}
