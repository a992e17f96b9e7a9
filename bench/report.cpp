#include "report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <utility>

#include "marlin/status.h"

namespace marlin::bench {
namespace {

struct ModelTotals {
  double marlin_us = 0.0;
  double cublas_us = 0.0;
  int layers = 0;
};

// (model, m) -> times summed over that model's layers.
std::map<std::pair<std::string, int>, ModelTotals> totals_by_model_and_m(
    const std::vector<DenseRow>& rows) {
  std::map<std::pair<std::string, int>, ModelTotals> totals;
  for (const auto& row : rows) {
    auto& total = totals[{row.model, row.m}];
    total.marlin_us += row.time_us;
    total.cublas_us += row.fp16_cublas_us;
    total.layers += 1;
  }
  return totals;
}

}  // namespace

std::string file_name_of_device(const std::string& device_name) {
  std::string out;
  for (const char raw : device_name) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(raw)));
    if (c == ' ') {
      out += '-';
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_') {
      out += c;
    }
  }
  return out.empty() ? "unknown-gpu" : out;
}

std::string speedup_table(const std::vector<std::string>& models,
                          const std::vector<DenseRow>& rows) {
  const auto totals = totals_by_model_and_m(rows);
  std::set<int> all_m;
  for (const auto& row : rows) all_m.insert(row.m);
  std::string out = "| model |";
  for (const int m : all_m) out += fmt::format(" m={} |", m);
  out += "\n| --- |";
  for (std::size_t i = 0; i < all_m.size(); ++i) out += " ---: |";
  out += "\n";
  for (const auto& model : models) {
    out += fmt::format("| {} |", model);
    for (const int m : all_m) {
      const auto found = totals.find({model, m});
      out += found == totals.end()
                 ? std::string(" - |")
                 : fmt::format(" {:.2f} |", found->second.cublas_us / found->second.marlin_us);
    }
    out += "\n";
  }
  return out;
}

void write_csv(const std::string& path, const std::vector<DenseRow>& rows) {
  std::ofstream file(path);
  if (!file) throw Error(ErrorCode::kIo, "cannot open " + path + " for writing");
  file << "gpu,date,model,k,n,m,group,kernel,time_us,fp16_cublas_us,speedup,weight_tb_s,"
          "copy_tb_s\n";
  for (const auto& row : rows) {
    file << fmt::format("{},{},{},{},{},{},{},{},{:.3f},{:.3f},{:.4f},{:.4f},{:.4f}\n", row.gpu,
                        row.date, row.model, row.k, row.n, row.m, row.group, row.kernel,
                        row.time_us, row.fp16_cublas_us, row.speedup, row.weight_tb_s,
                        row.copy_tb_s);
  }
  if (!file) throw Error(ErrorCode::kIo, "writing " + path + " failed");
}

std::string summary_markdown(const RunInfo& info, const std::vector<std::string>& models,
                             const std::vector<DenseRow>& rows) {
  const auto totals = totals_by_model_and_m(rows);
  std::set<int> all_m;
  for (const auto& row : rows) all_m.insert(row.m);

  std::string out;
  out += "# Dense FP16 x INT4 GEMM (marlin) vs FP16 cuBLASLt\n\n";
  out += fmt::format("- device: {}\n", info.device_name);
  out += fmt::format("- date: {}\n", info.date);
  out += fmt::format("- device copy bandwidth (read + write): {:.3f} TB/s\n", info.copy_tb_s);
  out += fmt::format("- L2: {:.1f} MiB; weights rotated over copies totalling > 2x L2\n",
                     static_cast<double>(info.l2_bytes) / (1024.0 * 1024.0));
  out += fmt::format("- group size: {}\n", info.group == -1 ? std::string("per-channel")
                                                            : std::to_string(info.group));
  out += fmt::format("- timing: {}\n", info.timing);
  out += fmt::format("- marlin launches: {}\n", info.launch);
  out += fmt::format("- baseline: {}\n\n", info.cublas);

  out += "Times are in microseconds, summed over the model's layers (the linear layers of one "
         "transformer block; `large` is one matrix); speedup = cuBLAS time / marlin time.\n\n";
  out += "## Speedup over FP16 cuBLASLt\n\n" + speedup_table(models, rows);
  for (const auto& model : models) {
    out += fmt::format("\n## {}\n\n| m | layers | marlin (us) | cuBLAS fp16 (us) | speedup |\n"
                       "| ---: | ---: | ---: | ---: | ---: |\n",
                       model);
    for (const int m : all_m) {
      const auto found = totals.find({model, m});
      if (found == totals.end()) continue;
      const auto& total = found->second;
      out += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.2f} |\n", m, total.layers,
                         total.marlin_us, total.cublas_us, total.cublas_us / total.marlin_us);
    }
  }
  out += "\n## Sanity checks (marlin vs cuBLAS on the dequantized weights)\n\n";
  for (const auto& line : info.checks) out += "- " + line + "\n";
  if (!info.failures.empty()) {
    out += "\n## Not measured\n\n";
    for (const auto& line : info.failures) out += "- " + line + "\n";
  }
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  if (!file) throw Error(ErrorCode::kIo, "cannot open " + path + " for writing");
  file << text;
  if (!file) throw Error(ErrorCode::kIo, "writing " + path + " failed");
}

}  // namespace marlin::bench
