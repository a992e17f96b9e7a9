// `marlin inspect PATH`: what a checkpoint holds: its kind, metadata, and every tensor with its
// dtype, shape and size. PATH is a model folder (single or sharded) or one .safetensors file.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "commands.h"
#include "marlin/io/checkpoint.h"
#include "marlin/io/model_config.h"
#include "marlin/io/model_files.h"

namespace {

void print_metadata(const std::map<std::string, std::string>& metadata) {
  if (metadata.empty()) return;
  fmt::print("metadata:\n");
  for (const auto& [key, value] : metadata) fmt::print("  {} = {}\n", key, value);
}

void print_tensors(const std::vector<marlin::io::TensorInfo>& tensors, bool show_all) {
  std::map<std::string, int> per_dtype;
  std::uint64_t bytes = 0;
  for (const auto& tensor : tensors) {
    ++per_dtype[std::string(marlin::io::st_dtype_name(tensor.dtype))];
    bytes += tensor.nbytes();
  }
  fmt::print("tensors: {} ({:.2f} MiB)", tensors.size(), static_cast<double>(bytes) / (1 << 20));
  for (const auto& [dtype, count] : per_dtype) fmt::print(", {} {}", count, dtype);
  fmt::print("\n");
  const std::size_t limit = show_all ? tensors.size() : std::min<std::size_t>(tensors.size(), 40);
  for (std::size_t i = 0; i < limit; ++i) {
    fmt::print("  {:<60} {:<24} {:>12} bytes\n", tensors[i].name, tensors[i].describe(),
               tensors[i].nbytes());
  }
  if (limit < tensors.size()) {
    fmt::print("  ... {} more (--all lists every tensor)\n", tensors.size() - limit);
  }
}

void inspect_folder(const std::string& folder, bool show_all) {
  namespace io = marlin::io;
  const auto config_path = std::filesystem::path(folder) / "config.json";
  if (std::filesystem::exists(config_path)) {
    const io::ModelConfig config = io::load_model_config(folder);
    fmt::print("model: {} ({}), {} layers, hidden {}, heads {}/{} (kv), intermediate {}, "
               "vocab {}, dtype {}\n",
               config.architecture, config.model_type, config.num_hidden_layers,
               config.hidden_size, config.num_attention_heads, config.num_key_value_heads,
               config.intermediate_size, config.vocab_size,
               config.torch_dtype.empty() ? "?" : config.torch_dtype);
    if (config.quantization) {
      fmt::print("quantization: {} {}-bit, group size {}, act-order {}, {}\n",
                 io::checkpoint_format_name(config.quantization->format),
                 config.quantization->bits, config.quantization->group_size,
                 config.quantization->desc_act ? "yes" : "no",
                 config.quantization->symmetric ? "symmetric" : "asymmetric");
    }
  }
  const io::ModelFiles files = io::ModelFiles::open(folder);
  fmt::print("files: {}\n", files.files().size());
  const auto& first_metadata = files.files().front().metadata();
  const auto format = first_metadata.find("format");
  if (format != first_metadata.end() && format->second == "marlin") {
    const io::MarlinCheckpoint checkpoint = io::MarlinCheckpoint::open(folder);
    fmt::print("marlin checkpoint, format version {}: {} packed linear layers\n",
               checkpoint.metadata().format_version, checkpoint.modules().size());
  }
  print_metadata(first_metadata);
  std::vector<io::TensorInfo> tensors;
  for (const auto& name : files.names()) tensors.push_back(files.info(name));
  print_tensors(tensors, show_all);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto show_all = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "inspect", "Show what a checkpoint holds: config, metadata, tensors (dtype, shape, size)");
  command->add_option("PATH", *path, "model folder or .safetensors file")->required();
  command->add_flag("--all", *show_all, "list every tensor (default: the first 40)");
  command->callback([path, show_all] {
    if (std::filesystem::is_directory(*path)) {
      inspect_folder(*path, *show_all);
      return;
    }
    const auto file = marlin::io::SafetensorsFile::open(*path);
    fmt::print("file: {} (header {} bytes, data {} bytes)\n", *path,
               file.header().data_start - 8, file.header().data_size);
    print_metadata(file.metadata());
    print_tensors(file.tensors(), *show_all);
  });
}
