// marlin_bench_dense: the dense marlin GEMM against 16-bit cuBLASLt, per linear layer of
// Llama-2-7B, Llama-3-8B, Llama-2-70B and one large matrix, for m = 1 .. 1024: the reference
// kernel (FP16 x symmetric INT4) and, with --variants, the variants of issue #6 (dense_variants.h).
//
// For every layer and kernel: random packed weights (and their dequantization for cuBLAS), rotated
// over enough device copies that every launch reads its weights from DRAM (timing.h says how one
// time is taken), one sanity check that both compute the same C, then for every m the median time
// of marlin::gemm and of the fastest of cuBLASLt's heuristic candidates in the kernel's activation
// type. cuBLAS's time does not depend on the weights' values, so it is measured once per layer, m
// and type: the fp16 variants reuse the reference's. Output: a CSV row per (layer, kernel, m) and a
// markdown summary under --out-dir (see bench/results/README.md).
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
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/cuda_check.h"
#include "cublas_baseline.h"
#include "cuda_resources.h"
#include "dense_models.h"
#include "dense_options.h"
#include "dense_variants.h"
#include "gemm/dense_dispatch.h"
#include "marlin/device.h"
#include "marlin/gemm.h"
#include "marlin/half.h"
#include "random_weights.h"
#include "report.h"
#include "timing.h"
#include "variant_report.h"
#include "weight_copies.h"

namespace marlin::bench {
namespace {

constexpr std::size_t kCublasWorkspaceBytes = 32u << 20;  // 32 MiB
constexpr std::size_t kCopyBandwidthBytes = 1u << 30;     // 1 GiB
constexpr double kCheckTolerance = 1e-2;                  // relative Frobenius norm
constexpr int kCheckM = 16;

struct Device {
  std::string name;
  std::size_t l2_bytes = 0;
};

// The columns every row of a run shares.
struct RunStamp {
  std::string gpu;
  std::string date;
  double copy_tb_s = 0.0;
};

// One layer, and what its kernels share: cuBLAS's time per (activation type, m).
struct LayerJob {
  std::string model;
  LayerShape layer;
  std::map<std::pair<DType, int>, double> cublas_us;
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

std::vector<float> download_16bit(const DeviceBuffer& buffer, std::size_t count, DType dtype) {
  std::vector<std::uint16_t> bits(count);
  CUDA_CHECK(cudaMemcpy(bits.data(), buffer.data(), count * sizeof(std::uint16_t),
                        cudaMemcpyDeviceToHost));
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) {
    values[i] = dtype == DType::kBFloat16 ? bf16_to_float(BFloat16{bits[i]})
                                          : half_to_float(Half{bits[i]});
  }
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

class DenseBench {
 public:
  DenseBench(const Options& options, std::vector<KernelVariant> kernels, Device device,
             TimingPlan plan, WeightLayout layout)
      : options_(options), kernels_(std::move(kernels)), device_(std::move(device)), plan_(plan),
        layout_(layout), lt_(kCublasWorkspaceBytes) {}

  TimingMethod method() const { return plan_.method; }
  cudaStream_t stream() const { return stream_.get(); }

  // Every kernel of the run on one layer; false when a sanity check failed.
  bool run_layer(const std::string& model, const LayerShape& layer, std::uint64_t seed,
                 const RunStamp& stamp, RunInfo& info, std::vector<DenseRow>& rows) {
    LayerJob job{model, layer, {}};
    bool checks_passed = true;
    for (std::size_t i = 0; i < kernels_.size(); ++i) {
      // Each kernel its own weights; the reference (i = 0) keeps the seed of a run without
      // variants.
      const std::uint64_t kernel_seed = seed + i * 0x9e3779b97f4a7c15ull;
      checks_passed = run_kernel(job, kernels_[i], kernel_seed, stamp, info, rows) &&
                      checks_passed;
    }
    return checks_passed;
  }

 private:
  // One kernel on one layer: data, check, then a row per m. False when the check failed (its rows
  // are still recorded); a kernel marlin::gemm refuses is recorded in info.failures.
  bool run_kernel(LayerJob& job, const KernelVariant& kernel, std::uint64_t seed,
                  const RunStamp& stamp, RunInfo& info, std::vector<DenseRow>& rows) {
    const int k = job.layer.k;
    const int n = job.layer.n;
    const WeightSpec& spec = kernel.weights;
    const int max_m = *std::max_element(options_.m_values.begin(), options_.m_values.end());
    // In a variants run every line names its kernel; a run of the reference alone reads as before.
    const std::string label = options_.variants ? " " + kernel.name : std::string();
    const std::string where =
        fmt::format("{} {} k={} n={}", job.model, job.layer.name, k, n);
    if (uncapturable_.count(kernel.name) != 0) {
      info.failures.push_back(fmt::format("{}{}: not measured: CUDA graph capture failed on an "
                                          "earlier layer", where, label));
      return true;
    }
    const bool cublas_to_time =
        std::any_of(options_.m_values.begin(), options_.m_values.end(), [&](int m) {
          return job.cublas_us.count({spec.dtype, m}) == 0;
        });

    const auto host_start = std::chrono::steady_clock::now();
    RandomLayer host = make_random_layer(k, n, spec, layout_, seed);
    const std::vector<std::uint16_t> host_a =
        random_activations(static_cast<std::size_t>(max_m) * k, spec.dtype, seed ^ 0xa11ceull);
    const double host_seconds = seconds_since(host_start);

    // Each kernel's copies may use a third of the free memory; activations, outputs and the
    // workspaces are small beside them. cuBLAS's weights need the rotation only when it is timed
    // here; otherwise one copy serves the check.
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const MarlinWeightCopies marlin_weights(host.packed, device_.l2_bytes, free_bytes / 3);
    const int dequantized_copies =
        cublas_to_time ? rotation_copies(host.dequantized.size() * sizeof(std::uint16_t),
                                         device_.l2_bytes, free_bytes / 3)
                       : 1;
    const DequantizedWeightCopies dequantized(host.dequantized, dequantized_copies);
    host = RandomLayer{};  // the host copies can go; the check needs only the device ones

    DeviceBuffer a(host_a.size() * sizeof(std::uint16_t));
    CUDA_CHECK(cudaMemcpy(a.data(), host_a.data(), a.bytes(), cudaMemcpyHostToDevice));
    const std::size_t c_bytes = static_cast<std::size_t>(max_m) * n * sizeof(std::uint16_t);
    DeviceBuffer c_marlin(c_bytes);
    DeviceBuffer c_cublas(c_bytes);
    Workspace workspace(max_m, n, spec.act_order ? k : 0);
    fmt::print("\n{} {} (k={}, n={}){}: host data {:.1f} s; weights rotated over {} packed copies "
               "({:.1f} MiB each) and {} {} copies\n",
               job.model, job.layer.name, k, n, label, host_seconds,
               marlin_weights.views().size(),
               static_cast<double>(marlin_weights.bytes()) / (1 << 20), dequantized.count(),
               dtype_name(spec.dtype));

    const auto marlin_launch = [&](int m) {
      return [&, m](int index, cudaStream_t stream) {
        GemmArgs args;
        args.a = a.data();
        args.activation_dtype = spec.dtype;
        args.m = m;
        const auto& views = marlin_weights.views();
        args.weights = views[static_cast<std::size_t>(index) % views.size()];
        args.c = c_marlin.data();
        args.workspace = workspace.view();
        args.static_weights = kernel.static_weights;
        gemm(args, stream);
      };
    };
    const auto cublas_launch = [&](const CublasLtGemm& problem, cublasLtMatmulAlgo_t algo) {
      return [&problem, algo, &a, &dequantized, &c_cublas](int index, cudaStream_t stream) {
        problem.run(algo, a.data(), dequantized.copy(index), c_cublas.data(), stream);
      };
    };

    bool check_passed = false;
    // Sanity check: both outputs poisoned with NaN (0xffff), one launch each on copy 0.
    {
      const int m = std::min(kCheckM, max_m);
      const CublasLtGemm problem(lt_, m, n, k, layout_, spec.dtype);
      const auto algos = problem.heuristic_algos(1);
      CUDA_CHECK(cudaMemsetAsync(c_marlin.data(), 0xff, c_bytes, stream_.get()));
      CUDA_CHECK(cudaMemsetAsync(c_cublas.data(), 0xff, c_bytes, stream_.get()));
      try {
        marlin_launch(m)(0, stream_.get());
      } catch (const Error& error) {
        if (error.code() == ErrorCode::kCuda) throw;  // the context may be unusable: stop
        info.failures.push_back(
            fmt::format("{}{}: marlin::gemm refused: {}", where, label, error.what()));
        fmt::print("  marlin::gemm refused: {}\n", error.what());
        return true;
      }
      cublas_launch(problem, algos[0])(0, stream_.get());
      CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
      const std::size_t count = static_cast<std::size_t>(m) * n;
      const double error = relative_frobenius(download_16bit(c_marlin, count, spec.dtype),
                                              download_16bit(c_cublas, count, spec.dtype));
      check_passed = error <= kCheckTolerance;
      info.checks.push_back(fmt::format("{} m={}{}: relative Frobenius difference {:.2e} "
                                        "(tolerance {:.0e}): {}",
                                        where, m, label, error, kCheckTolerance,
                                        check_passed ? "OK" : "FAILED"));
      fmt::print("  check: {}\n", info.checks.back());

      if (plan_.method == TimingMethod::kGraph && probed_.insert(kernel.name).second) {
        std::string why;
        if (!can_capture(marlin_launch(m), stream_.get(), &why) ||
            !can_capture(cublas_launch(problem, algos[0]), stream_.get(), &why)) {
          if (probed_.size() == 1) {
            fmt::print("  warning: CUDA graph capture failed ({}); timing every kernel of this "
                       "run with a plain loop of launches instead\n",
                       why);
            plan_.method = TimingMethod::kLoop;
          } else {
            // Earlier kernels were timed with graphs; a loop here would not compare with them.
            uncapturable_.insert(kernel.name);
            info.failures.push_back(fmt::format("{}{}: not measured: CUDA graph capture failed "
                                                "({})", where, label, why));
            fmt::print("  not measured: CUDA graph capture failed ({})\n", why);
            return check_passed;
          }
        }
      }
    }

    for (const int m : options_.m_values) {
      double marlin_us = 0.0;
      try {
        marlin_us = median_launch_us(marlin_launch(m), plan_, stream_.get());
      } catch (const Error& error) {
        if (error.code() == ErrorCode::kCuda) throw;  // the context may be unusable: stop
        info.failures.push_back(fmt::format("{} m={}{}: marlin::gemm refused: {}", where, m,
                                            label, error.what()));
        fmt::print("  m={:5}: marlin::gemm refused: {}\n", m, error.what());
        continue;
      }
      const auto key = std::make_pair(spec.dtype, m);
      if (job.cublas_us.count(key) == 0) {
        job.cublas_us[key] = time_cublas(m, n, k, spec.dtype, cublas_launch);
      }
      const double cublas_us = job.cublas_us[key];
      DenseRow row;
      row.gpu = stamp.gpu;
      row.date = stamp.date;
      row.model = job.model;
      row.k = k;
      row.n = n;
      row.m = m;
      row.group = spec.group_size;
      row.kernel = kernel.name;
      row.time_us = marlin_us;
      row.fp16_cublas_us = cublas_us;
      row.speedup = cublas_us / marlin_us;
      row.bytes = static_cast<double>(moved_bytes(marlin_weights.bytes(), spec, m, k));
      row.weight_tb_s = row.bytes / (marlin_us * 1e-6) / 1e12;
      row.copy_tb_s = stamp.copy_tb_s;
      fmt::print("  m={:5}: marlin {:9.2f} us  cuBLAS {:9.2f} us  speedup {:5.2f}  "
                 "weights {:.2f} TB/s\n",
                 m, marlin_us, cublas_us, row.speedup, row.weight_tb_s);
      std::fflush(stdout);
      rows.push_back(row);
    }
    return check_passed;
  }

  // The fastest of the heuristic's candidates, each measured briefly the same way, then the
  // winner measured with the full plan.
  template <typename MakeLaunch>
  double time_cublas(int m, int n, int k, DType dtype, const MakeLaunch& make_launch) {
    const CublasLtGemm problem(lt_, m, n, k, layout_, dtype);
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
  std::vector<KernelVariant> kernels_;  // the reference first
  Device device_;
  TimingPlan plan_;
  WeightLayout layout_;
  CublasLt lt_;
  CudaStream stream_;
  std::set<std::string> probed_;        // kernels whose launches were tried in a CUDA graph
  std::set<std::string> uncapturable_;  // ... and could not be captured
};

bool has_selected_layer(const Options& options, const ModelShapes& model) {
  return std::any_of(model.layers.begin(), model.layers.end(), [&](const LayerShape& layer) {
    return is_selected(options.layers, layer.name);
  });
}

int run(const Options& options) {
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

  RunStamp stamp;
  stamp.gpu = file_name_of_device(device.name);
  stamp.date = today();
  TimingPlan plan;
  plan.method = options.timing == "loop" ? TimingMethod::kLoop : TimingMethod::kGraph;
  plan.launches_per_sample = options.iters;
  plan.samples = options.samples;
  const WeightLayout layout =
      options.cublas_weights == "kn" ? WeightLayout::kKN : WeightLayout::kNK;

  const std::vector<KernelVariant> kernels = selected_kernels(options);
  DenseBench bench(options, kernels, device, plan, layout);
  stamp.copy_tb_s =
      device_copy_tb_s(kCopyBandwidthBytes, std::max(options.samples, 5), bench.stream());
  fmt::print("{} ({}), L2 {:.1f} MiB, device copy {:.3f} TB/s (read + write)\n", device.name,
             stamp.date, static_cast<double>(device.l2_bytes) / (1 << 20), stamp.copy_tb_s);

  RunInfo run_info;
  run_info.device_name = device.name;
  run_info.date = stamp.date;
  run_info.copy_tb_s = stamp.copy_tb_s;
  run_info.l2_bytes = static_cast<long long>(device.l2_bytes);
  run_info.group = options.group_size;
  run_info.launch = options.static_weights
                        ? "GemmArgs::static_weights: programmatic dependent launch on sm_90+, "
                          "each launch streams its weights while the previous one finishes"
                        : "plain stream-ordered launches";
  const bool any_bf16 = std::any_of(kernels.begin(), kernels.end(), [](const KernelVariant& v) {
    return v.weights.dtype == DType::kBFloat16;
  });
  run_info.cublas = fmt::format(
      "cuBLASLt, {}, CUBLAS_COMPUTE_32F, {} weights stored {} ({}), 32 MiB workspace, "
      "fastest measured of up to {} heuristic candidates",
      any_bf16 ? "fp16 A/W/C (bf16 A/W/C for the bf16 kernels)" : "fp16 A/W/C",
      any_bf16 ? "16-bit" : "fp16", weight_layout_name(layout),
      layout == WeightLayout::kNK ? "[n,k], op T" : "[k,n], op N", options.candidates);

  std::vector<std::string> model_order;
  std::vector<DenseRow> rows;
  bool all_checks_passed = true;
  std::uint64_t seed = options.seed;
  for (const auto& model : dense_models()) {
    if (!is_selected(options.models, model.name) || !has_selected_layer(options, model)) continue;
    model_order.push_back(model.name);
    for (const auto& layer : model.layers) {
      if (!is_selected(options.layers, layer.name)) continue;
      all_checks_passed =
          bench.run_layer(model.name, layer, ++seed, stamp, run_info, rows) && all_checks_passed;
    }
  }
  run_info.timing = fmt::format(
      "{}, {} launches per sample (each on the next weight copy), median of {} samples, after "
      "one warm-up sample",
      timing_method_name(bench.method()), options.iters, options.samples);

  std::filesystem::create_directories(options.out_dir);
  const std::string stem = options.out_dir + "/" + stamp.date + "-" + stamp.gpu +
                           (options.variants ? "-dense-variants" : "-dense") +
                           (options.static_weights ? "-pdl" : "");
  write_csv(stem + ".csv", rows);
  std::vector<DenseRow> reference_rows;
  std::copy_if(rows.begin(), rows.end(), std::back_inserter(reference_rows),
               [&](const DenseRow& row) { return row.kernel == kernels.front().name; });
  const std::string summary = options.variants
                                  ? variants_markdown(run_info, model_order, kernels, rows)
                                  : summary_markdown(run_info, model_order, reference_rows);
  write_text(stem + ".md", summary);
  fmt::print("\n{}\nwrote {}.csv and {}.md\n", summary, stem, stem);
  fmt::print("\nspeedup of {} over FP16 cuBLASLt on {} (times summed over each model's "
             "layers):\n\n{}",
             kernels.front().name, device.name, speedup_table(model_order, reference_rows));
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
  CLI::App app{"marlin_bench_dense: dense marlin GEMM (FP16 x INT4, and with --variants the "
               "variants of issue #6) vs 16-bit cuBLASLt, per layer"};
  marlin::bench::Options options;
  marlin::bench::add_options(app, options);
  CLI11_PARSE(app, argc, argv);
  if (options.list_configs) {
    for (const std::string& name : marlin::gemm_detail::dense_config_names()) {
      std::printf("%s\n", name.c_str());
    }
    return 0;
  }
  try {
    marlin::bench::apply_defaults(app, options);
    return marlin::bench::run(options);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "marlin_bench_dense: error: %s\n", error.what());
    return 1;
  }
}
