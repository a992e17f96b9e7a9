// `marlin convert IN OUT`: a Hugging Face model folder -> a marlin checkpoint (see
// include/marlin/io/convert.h for what is converted and the rules that protect IN and OUT).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include "commands.h"
#include "marlin/io/convert.h"
#include "progress.h"

namespace {

std::string human_bytes(std::uint64_t bytes) {
  const double value = static_cast<double>(bytes);
  if (bytes >= (1ull << 30)) return fmt::format("{:.2f} GiB", value / (1ull << 30));
  if (bytes >= (1ull << 20)) return fmt::format("{:.2f} MiB", value / (1ull << 20));
  if (bytes >= (1ull << 10)) return fmt::format("{:.2f} KiB", value / (1ull << 10));
  return fmt::format("{} B", bytes);
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto options = std::make_shared<marlin::io::ConvertOptions>();
  auto progress_always = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "convert",
      "Convert a model folder (FP16/BF16 safetensors, GPTQ, AWQ or compressed-tensors) into a "
      "marlin checkpoint; IN is never modified");
  command->add_option("IN", options->input, "input model folder (config.json + *.safetensors)")
      ->required();
  command->add_option("OUT", options->output, "output folder (must not exist, see --force)")
      ->required();
  command->add_option("--group-size", options->group_size,
                      "group size for quantizing float models with RTN (-1: per channel)")
      ->capture_default_str();
  command->add_option("--bits", options->bits,
                      "bits per weight for quantizing float models with RTN: 4 or 8 (symmetric)")
      ->check(CLI::IsMember({4, 8}))
      ->capture_default_str();
  command->add_flag("--force", options->force,
                    "replace OUT if it exists (a folder of plain files); never IN");
  command->add_option("--max-shard-bytes", options->max_shard_bytes,
                      "split the output into safetensors shards of at most this size")
      ->capture_default_str();
  command->add_flag("--progress", *progress_always, "draw the progress bar even when not a tty");
  command->callback([options, progress_always] {
    std::unique_ptr<ProgressBar> bar;
    std::uint64_t bytes_shown = 0;
    const marlin::io::ConvertSummary summary = marlin::io::convert_checkpoint(
        *options, [&](const marlin::io::ConvertProgress& p) {
          if (!bar) {
            bar = std::make_unique<ProgressBar>("convert", p.tensors_total, p.bytes_total,
                                                *progress_always);
          }
          bar->advance(1, p.bytes_done - bytes_shown);  // the bar counts increments
          bytes_shown = p.bytes_done;
        });
    if (bar) bar->finish();
    fmt::print("converted {} ({}) -> {}\n", options->input, summary.input_kind, options->output);
    if (!summary.gemm_unsupported.empty()) {
      fmt::print(stderr, "warning: {} linear layers are packed but the dense GEMM cannot run them:\n",
                 summary.gemm_unsupported.size());
      for (const auto& line : summary.gemm_unsupported) fmt::print(stderr, "  {}\n", line);
    }
    fmt::print("  linear layers packed: {}\n", summary.quantized_modules);
    fmt::print("  tensors copied:       {}\n", summary.copied_tensors);
    fmt::print("  size: {} -> {} ({:.2f}x smaller)\n", human_bytes(summary.input_bytes),
               human_bytes(summary.output_bytes),
               summary.output_bytes ? static_cast<double>(summary.input_bytes) /
                                          static_cast<double>(summary.output_bytes)
                                    : 0.0);
    fmt::print("  verified: {} dequantized values re-read from OUT; copied tensors byte-equal\n",
               summary.verified_values);
  });
}
