#include "variant_report.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <tuple>
#include <utility>

namespace marlin::bench {
namespace {

// One kernel's times and bytes summed over a model's layers at one m.
struct Cell {
  double time_us = 0.0;
  double cublas_us = 0.0;
  double bytes = 0.0;
  double reference_bytes = 0.0;
  double scaled_reference_us = 0.0;  // sum over layers of reference time x bytes ratio
  int layers = 0;

  double relative_time() const { return time_us / scaled_reference_us; }
  double speedup() const { return cublas_us / time_us; }
  double bytes_ratio() const { return bytes / reference_bytes; }
};

// The cells of every (kernel, model, m), each summed over the layers where the reference was
// measured too, so that the relative time compares like with like.
class VariantCells {
 public:
  VariantCells(const std::string& reference, const std::vector<DenseRow>& rows) {
    // Within a model the layers' (k, n) differ, so (model, k, n, m) names a layer at one m.
    std::map<std::tuple<std::string, int, int, int>, const DenseRow*> reference_rows;
    for (const auto& row : rows) {
      if (row.kernel != reference) continue;
      reference_rows[{row.model, row.k, row.n, row.m}] = &row;
      reference_layers_[{row.model, row.m}] += 1;
      m_values_.insert(row.m);
    }
    for (const auto& row : rows) {
      const auto found = reference_rows.find({row.model, row.k, row.n, row.m});
      if (found == reference_rows.end()) continue;
      const DenseRow& reference_row = *found->second;
      Cell& cell = cells_[{row.kernel, row.model, row.m}];
      cell.time_us += row.time_us;
      cell.cublas_us += row.fp16_cublas_us;
      cell.bytes += row.bytes;
      cell.reference_bytes += reference_row.bytes;
      cell.scaled_reference_us += reference_row.time_us * row.bytes / reference_row.bytes;
      cell.layers += 1;
    }
  }

  // The cell, or null unless the kernel was measured on every layer the reference was.
  const Cell* find(const std::string& kernel, const std::string& model, int m) const {
    const auto cell = cells_.find({kernel, model, m});
    const auto layers = reference_layers_.find({model, m});
    if (cell == cells_.end() || layers == reference_layers_.end()) return nullptr;
    return cell->second.layers == layers->second ? &cell->second : nullptr;
  }

  const std::set<int>& m_values() const { return m_values_; }

 private:
  std::map<std::pair<std::string, int>, int> reference_layers_;  // (model, m) -> layers
  std::map<std::tuple<std::string, std::string, int>, Cell> cells_;
  std::set<int> m_values_;
};

bool has_target_at(const KernelVariant& kernel, int m) {
  return kernel.max_relative_time > 0.0 ||
         (kernel.min_speedup > 0.0 && m <= kSpeedupTargetMaxM);
}

// The value issue #6 judges the kernel by: relative time, or speedup for INT8.
double target_metric(const KernelVariant& kernel, const Cell& cell) {
  return kernel.max_relative_time > 0.0 ? cell.relative_time() : cell.speedup();
}

bool meets_target(const KernelVariant& kernel, const Cell& cell) {
  return kernel.max_relative_time > 0.0 ? cell.relative_time() <= kernel.max_relative_time
                                        : cell.speedup() >= kernel.min_speedup;
}

std::string target_text(const KernelVariant& kernel) {
  if (kernel.max_relative_time > 0.0) {
    return fmt::format("relative time <= {:.2f}", kernel.max_relative_time);
  }
  if (kernel.min_speedup > 0.0) {
    return fmt::format("speedup >= {:.1f} at m <= {}", kernel.min_speedup, kSpeedupTargetMaxM);
  }
  return "-";
}

std::string scheme_text(QuantScheme scheme) {
  switch (scheme) {
    case QuantScheme::kSymmetricInt4: return "symmetric INT4";
    case QuantScheme::kAsymmetricInt4: return "INT4 with zero points";
    case QuantScheme::kSymmetricInt8: return "symmetric INT8";
  }
  return "?";
}

// A table with a row per (model, m) and a column per kernel; cell_text(kernel, m, cell) writes a
// cell, "-" where the kernel was not measured on all of the model's layers.
template <typename CellText>
std::string model_m_table(const VariantCells& cells, const std::vector<std::string>& models,
                          const std::vector<KernelVariant>& columns,
                          const std::vector<std::string>& headers, const CellText& cell_text) {
  std::string out = "| model | m |";
  for (const auto& header : headers) out += " " + header + " |";
  out += "\n| --- | ---: |";
  for (std::size_t i = 0; i < columns.size(); ++i) out += " ---: |";
  out += "\n";
  for (const auto& model : models) {
    for (const int m : cells.m_values()) {
      out += fmt::format("| {} | {} |", model, m);
      for (const auto& kernel : columns) {
        const Cell* cell = cells.find(kernel.name, model, m);
        out += cell == nullptr ? std::string(" - |") : " " + cell_text(kernel, m, *cell) + " |";
      }
      out += "\n";
    }
  }
  return out;
}

std::string bold_if(bool missed, const std::string& text) {
  return missed ? "**" + text + "**" : text;
}

// One line per variant with a target: in how many (model, m) cells it is met, and the worst.
std::string target_summary(const VariantCells& cells, const std::vector<std::string>& models,
                           const std::vector<KernelVariant>& variants) {
  std::string out;
  for (const auto& variant : variants) {
    if (variant.max_relative_time <= 0.0 && variant.min_speedup <= 0.0) continue;
    int met = 0;
    int judged = 0;
    const Cell* worst = nullptr;
    std::string worst_where;
    for (const auto& model : models) {
      for (const int m : cells.m_values()) {
        const Cell* cell = cells.find(variant.name, model, m);
        if (cell == nullptr || !has_target_at(variant, m)) continue;
        judged += 1;
        met += meets_target(variant, *cell) ? 1 : 0;
        const bool lower_is_better = variant.max_relative_time > 0.0;
        const double value = target_metric(variant, *cell);
        if (worst == nullptr || (lower_is_better ? value > target_metric(variant, *worst)
                                                 : value < target_metric(variant, *worst))) {
          worst = cell;
          worst_where = fmt::format("{}, m={}", model, m);
        }
      }
    }
    out += fmt::format("- `{}`: {} in {} of {} (model, m) cells", variant.name,
                       target_text(variant), met, judged);
    out += worst == nullptr ? std::string(" (not measured)\n")
                            : fmt::format("; worst {:.2f} ({})\n",
                                          target_metric(variant, *worst), worst_where);
  }
  return out;
}

}  // namespace

std::string variants_markdown(const RunInfo& info, const std::vector<std::string>& models,
                              const std::vector<KernelVariant>& kernels,
                              const std::vector<DenseRow>& rows) {
  const KernelVariant& reference = kernels.front();
  const std::vector<KernelVariant> variants(kernels.begin() + 1, kernels.end());
  const VariantCells cells(reference.name, rows);

  std::string out;
  out += "# Dense GEMM variants (issue #6) vs the FP16 x INT4 group-128 kernel\n\n";
  out += fmt::format("- device: {}\n", info.device_name);
  out += fmt::format("- date: {}\n", info.date);
  out += fmt::format("- device copy bandwidth (read + write): {:.3f} TB/s\n", info.copy_tb_s);
  out += fmt::format("- L2: {:.1f} MiB; every kernel's weights rotated over copies totalling > "
                     "2x L2\n",
                     static_cast<double>(info.l2_bytes) / (1024.0 * 1024.0));
  out += fmt::format("- timing: {}\n", info.timing);
  out += fmt::format("- marlin launches: {}\n", info.launch);
  out += fmt::format("- baseline: {}\n\n", info.cublas);

  out += "| kernel | activations | weights | group | act-order | target (issue #6) |\n"
         "| --- | --- | --- | ---: | --- | --- |\n";
  for (const auto& kernel : kernels) {
    const WeightSpec& spec = kernel.weights;
    out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", kernel.name, dtype_name(spec.dtype),
                       scheme_text(spec.scheme),
                       spec.group_size == kPerChannel ? std::string("per-channel")
                                                      : std::to_string(spec.group_size),
                       spec.act_order ? "yes" : "no",
                       &kernel == &kernels.front() ? std::string("the reference")
                                                   : target_text(kernel));
  }
  out += "\nTimes are summed over the model's layers (the linear layers of one transformer "
         "block; `large` is one matrix). Bytes are what one GEMM moves for its weights: packed "
         "codes + scales (+ zero points) (+ act-order: the permutation, and A read and written "
         "in permuted order). Relative time = variant time / (reference time x bytes / reference "
         "bytes), each layer's reference time scaled by that layer's bytes ratio: 1.00 means the "
         "variant streams its bytes as fast as the reference streams its own. Cells that miss "
         "the variant's target are in **bold**.\n\n";

  out += "## Targets\n\n" + target_summary(cells, models, variants);

  std::vector<std::string> headers;
  for (const auto& variant : variants) {
    headers.push_back(variant.max_relative_time > 0.0
                          ? fmt::format("{} (<= {:.2f})", variant.name, variant.max_relative_time)
                          : variant.name);
  }
  out += "\n## Relative time\n\n" +
         model_m_table(cells, models, variants, headers,
                       [](const KernelVariant& kernel, int, const Cell& cell) {
                         const bool missed = kernel.max_relative_time > 0.0 &&
                                             cell.relative_time() > kernel.max_relative_time;
                         return bold_if(missed, fmt::format("{:.2f}", cell.relative_time()));
                       });

  headers = {reference.name};
  for (const auto& variant : variants) {
    headers.push_back(variant.min_speedup > 0.0
                          ? fmt::format("{} (>= {:.1f} at m <= {})", variant.name,
                                        variant.min_speedup, kSpeedupTargetMaxM)
                          : variant.name);
  }
  out += "\n## Speedup over 16-bit cuBLASLt (bf16 kernels: over BF16 cuBLASLt)\n\n" +
         model_m_table(cells, models, kernels, headers,
                       [](const KernelVariant& kernel, int m, const Cell& cell) {
                         const bool missed = kernel.min_speedup > 0.0 &&
                                             m <= kSpeedupTargetMaxM &&
                                             cell.speedup() < kernel.min_speedup;
                         return bold_if(missed, fmt::format("{:.2f}", cell.speedup()));
                       });

  headers.clear();
  for (const auto& variant : variants) headers.push_back(variant.name);
  out += "\n## Bytes relative to the reference\n\n" +
         model_m_table(cells, models, variants, headers,
                       [](const KernelVariant&, int, const Cell& cell) {
                         return fmt::format("{:.3f}", cell.bytes_ratio());
                       });

  out += "\n## Sanity checks (marlin vs cuBLAS on the dequantized weights)\n\n";
  for (const auto& line : info.checks) out += "- " + line + "\n";
  if (!info.failures.empty()) {
    out += "\n## Not measured\n\n";
    for (const auto& line : info.failures) out += "- " + line + "\n";
  }
  return out;
}

}  // namespace marlin::bench
