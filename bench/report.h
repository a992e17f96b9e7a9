// Results of the dense benchmark: the CSV (one row per layer, kernel and m) and the markdown
// summary of the reference kernel (per model and m, times summed over the model's layers, against
// FP16 cuBLAS from the same run); variant_report.h summarizes a --variants run.
#pragma once

#include <string>
#include <vector>

namespace marlin::bench {

struct DenseRow {
  std::string gpu;     // file-name form of the device name, e.g. nvidia-h100-80gb-hbm3
  std::string date;    // YYYY-MM-DD
  std::string model;   // llama-2-7b, ..., large
  int k = 0;
  int n = 0;
  int m = 0;
  int group = 128;     // -1: per-channel
  std::string kernel;  // marlin_dense_fp16_int4, or a variant of dense_variants.h
  double time_us = 0.0;
  double fp16_cublas_us = 0.0;  // cuBLAS in the kernel's activation type (bf16 for bf16 kernels)
  double speedup = 0.0;         // fp16_cublas_us / time_us
  double weight_tb_s = 0.0;     // bytes / time_us
  double copy_tb_s = 0.0;       // device-to-device copy bandwidth of the same run
  // Not a CSV column: what the GEMM moves for its weights (dense_variants.h, moved_bytes).
  double bytes = 0.0;
};

// Everything the summary says about the run besides the rows.
struct RunInfo {
  std::string device_name;  // as CUDA reports it
  std::string date;
  double copy_tb_s = 0.0;
  long long l2_bytes = 0;
  int group = 128;
  std::string timing;        // e.g. "cuda-graph, 50 launches x 10 samples, median"
  std::string cublas;        // e.g. "cuBLASLt, fp16 weights nk, fastest of 8 heuristic candidates"
  std::string launch;        // how marlin::gemm was launched (--static-weights)
  std::vector<std::string> checks;    // one line per layer: the marlin-vs-cuBLAS sanity check
  std::vector<std::string> failures;  // (layer, m) that could not be measured, with the reason
};

// Lowercase, spaces to '-', anything but [a-z0-9._-] dropped: "NVIDIA H100 80GB HBM3" ->
// "nvidia-h100-80gb-hbm3".
std::string file_name_of_device(const std::string& device_name);

void write_csv(const std::string& path, const std::vector<DenseRow>& rows);

// The markdown table of speedups (cuBLAS / marlin, times summed over each model's layers), one
// row per model, one column per m.
std::string speedup_table(const std::vector<std::string>& models,
                          const std::vector<DenseRow>& rows);

// The markdown summary; `models` fixes the order of the tables.
std::string summary_markdown(const RunInfo& info, const std::vector<std::string>& models,
                             const std::vector<DenseRow>& rows);

void write_text(const std::string& path, const std::string& text);

}  // namespace marlin::bench
