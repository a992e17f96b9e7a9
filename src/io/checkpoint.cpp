// The marlin checkpoint: writer (sharded safetensors + metadata + config.json) and reader.
#include "marlin/io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "io/io_util.h"
#include "io/tensor_checks.h"
#include "layout/packed_format.h"

namespace marlin::io {

namespace fs = std::filesystem;

namespace {

const char* dtype_word(DType dtype) { return dtype == DType::kBFloat16 ? "bfloat16" : "float16"; }

int parse_int(const std::map<std::string, std::string>& strings, const std::string& key,
              const std::string& label) {
  const auto it = strings.find(key);
  if (it == strings.end()) throw_io(label + ": metadata lacks '" + key + "'");
  try {
    std::size_t used = 0;
    const int value = std::stoi(it->second, &used);
    if (used == it->second.size()) return value;
  } catch (const std::exception&) {
  }
  throw_io(label + ": metadata '" + key + "'='" + it->second + "' is not an integer");
}

std::string shard_name(std::size_t index, std::size_t count) {
  if (count == 1) return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}

}  // namespace

std::string qweight_name(const std::string& module) { return module + ".qweight"; }
std::string scales_name(const std::string& module) { return module + ".scales"; }

std::map<std::string, std::string> CheckpointMetadata::to_strings() const {
  return {{"format", "marlin"},
          {"format_version", std::to_string(format_version)},
          {"bits", std::to_string(bits)},
          {"group_size", std::to_string(group_size)},
          {"act_order", act_order ? "true" : "false"},
          {"sparsity", sparsity},
          {"scale_dtype", dtype_word(scale_dtype)},
          {"source", source}};
}

CheckpointMetadata CheckpointMetadata::from_strings(
    const std::map<std::string, std::string>& strings, const std::string& label) {
  const auto format = strings.find("format");
  if (format == strings.end() || format->second != "marlin") {
    throw_io(label + ": not a marlin checkpoint (metadata 'format' is not 'marlin')");
  }
  CheckpointMetadata metadata;
  metadata.format_version = parse_int(strings, "format_version", label);
  if (metadata.format_version != kMarlinFormatVersion) {
    throw_io(label + ": format_version " + std::to_string(metadata.format_version) +
             " is not supported (this build reads " + std::to_string(kMarlinFormatVersion) + ")");
  }
  metadata.bits = parse_int(strings, "bits", label);
  if (metadata.bits != 4) throw_io(label + ": bits=" + std::to_string(metadata.bits) + "; only 4");
  metadata.group_size = parse_int(strings, "group_size", label);
  if (metadata.group_size != -1 && metadata.group_size <= 0) {
    throw_io(label + ": group_size=" + std::to_string(metadata.group_size) +
             " must be positive or -1");
  }
  const auto value = [&](const char* key) {
    const auto it = strings.find(key);
    if (it == strings.end()) throw_io(label + ": metadata lacks '" + key + "'");
    return it->second;
  };
  const std::string act_order = value("act_order");
  if (act_order != "false") throw_io(label + ": act_order='" + act_order + "'; only false so far");
  metadata.act_order = false;
  metadata.sparsity = value("sparsity");
  if (metadata.sparsity != "dense") {
    throw_io(label + ": sparsity='" + metadata.sparsity + "'; only dense so far");
  }
  const std::string scale_dtype = value("scale_dtype");
  if (scale_dtype == "float16") {
    metadata.scale_dtype = DType::kFloat16;
  } else if (scale_dtype == "bfloat16") {
    metadata.scale_dtype = DType::kBFloat16;
  } else {
    throw_io(label + ": scale_dtype='" + scale_dtype + "' (float16 or bfloat16)");
  }
  metadata.source = value("source");
  return metadata;
}

CheckpointWriter::CheckpointWriter(std::string folder, CheckpointMetadata metadata,
                                   std::uint64_t max_shard_bytes)
    : folder_(std::move(folder)), metadata_(std::move(metadata)),
      max_shard_bytes_(max_shard_bytes) {
  require(max_shard_bytes_ > 0, "checkpoint writer: max_shard_bytes must be positive");
}

void CheckpointWriter::add_entry(Entry entry) {
  for (const auto& existing : entries_) {
    require(existing.name != entry.name, "checkpoint writer: tensor '" + entry.name +
                                             "' added twice");
  }
  entries_.push_back(std::move(entry));
}

void CheckpointWriter::add_packed(const std::string& module, int k, int n,
                                  std::function<PackedMatrix()> make) {
  require(k > 0 && n > 0 && k % layout::kTileK == 0 && n % layout::kTileN == 0,
          "checkpoint writer: module '" + module + "' k=" + std::to_string(k) + ", n=" +
              std::to_string(n) + " must be multiples of 16 and 64");
  const int group = metadata_.group_size == -1 ? k : metadata_.group_size;
  require(k % group == 0, "checkpoint writer: module '" + module + "' k=" + std::to_string(k) +
                              " is not a multiple of group_size=" + std::to_string(group));
  const auto groups = static_cast<std::uint64_t>(k / group);
  const StDType scale_type = metadata_.scale_dtype == DType::kBFloat16 ? StDType::kBF16
                                                                       : StDType::kF16;
  // qweight and scales come from one pack() call: the first producer makes it, the second takes
  // the scales (the writer runs producers in the order they were added).
  auto packed = std::make_shared<std::optional<PackedMatrix>>();
  const std::uint64_t words = static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(n) / 8;
  add_entry({qweight_name(module), StDType::kI32,
             {static_cast<std::uint64_t>(k / layout::kTileK), 2ull * static_cast<std::uint64_t>(n)},
             words * 4,
             [packed, make, module, k, n, this](std::vector<std::uint8_t>& out) {
               *packed = make();
               const PackedMatrix& p = **packed;
               if (p.k != k || p.n != n || p.scale_dtype != metadata_.scale_dtype) {
                 throw Error(ErrorCode::kInternal, "checkpoint writer: module '" + module +
                                                       "' produced a different shape or dtype");
               }
               out.resize(p.qweight.size() * 4);
               std::memcpy(out.data(), p.qweight.data(), out.size());
             }});
  add_entry({scales_name(module), scale_type, {groups, static_cast<std::uint64_t>(n)},
             groups * static_cast<std::uint64_t>(n) * 2,
             [packed](std::vector<std::uint8_t>& out) {
               out.resize((*packed)->scales.size() * 2);
               std::memcpy(out.data(), (*packed)->scales.data(), out.size());
               packed->reset();
             }});
}

void CheckpointWriter::add_tensor(const std::string& name, StDType dtype,
                                  std::vector<std::uint64_t> shape,
                                  SafetensorsWriter::Producer producer) {
  std::uint64_t bytes = st_dtype_size(dtype);
  for (std::uint64_t dim : shape) bytes *= dim;
  add_entry({name, dtype, std::move(shape), bytes, std::move(producer)});
}

std::uint64_t CheckpointWriter::total_bytes() const {
  std::uint64_t total = 0;
  for (const auto& entry : entries_) total += entry.bytes;
  return total;
}

void CheckpointWriter::write(const SafetensorsWriter::Progress& progress) const {
  // Fill shards in order; a tensor larger than the limit gets a shard of its own.
  std::vector<std::vector<const Entry*>> shards(1);
  std::uint64_t shard_bytes = 0;
  for (const auto& entry : entries_) {
    if (!shards.back().empty() && shard_bytes + entry.bytes > max_shard_bytes_) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(&entry);
    shard_bytes += entry.bytes;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t s = 0; s < shards.size(); ++s) {
    SafetensorsWriter writer;
    writer.set_metadata(metadata_.to_strings());
    const std::string name = shard_name(s, shards.size());
    for (const Entry* entry : shards[s]) {
      writer.add(entry->name, entry->dtype, entry->shape, entry->producer);
      weight_map[entry->name] = name;
    }
    writer.write((fs::path(folder_) / name).string(), progress);
  }
  if (shards.size() > 1) {
    const nlohmann::json index = {{"metadata", {{"total_size", total_bytes()}}},
                                  {"weight_map", weight_map}};
    write_text_file_atomic((fs::path(folder_) / "model.safetensors.index.json").string(),
                           index.dump(2) + "\n");
  }
}

void write_checkpoint_config(const std::string& source_config_json, const std::string& label,
                             const CheckpointMetadata& metadata, const std::string& out_folder) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(source_config_json);
  } catch (const nlohmann::json::exception& error) {
    throw_io(label + ": not valid JSON: " + error.what());
  }
  if (!config.is_object()) throw_io(label + ": expected a JSON object");
  config["quantization_config"] = {{"quant_method", "marlin"},
                                   {"format_version", metadata.format_version},
                                   {"bits", metadata.bits},
                                   {"group_size", metadata.group_size},
                                   {"act_order", metadata.act_order},
                                   {"sparsity", metadata.sparsity},
                                   {"source", metadata.source}};
  write_text_file_atomic((fs::path(out_folder) / "config.json").string(), config.dump(2) + "\n");
}

MarlinCheckpoint MarlinCheckpoint::open(const std::string& folder) {
  MarlinCheckpoint checkpoint(ModelFiles::open(folder));
  const auto& files = checkpoint.files_.files();
  checkpoint.metadata_ = CheckpointMetadata::from_strings(files.front().metadata(),
                                                          files.front().path());
  for (const auto& file : files) {
    if (file.metadata() != files.front().metadata()) {
      throw_io(file.path() + ": metadata differs from " + files.front().path());
    }
  }
  const std::string suffix = ".qweight";
  for (const auto& name : checkpoint.files_.names()) {
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      checkpoint.modules_.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  for (const auto& module : checkpoint.modules_) checkpoint.check_module(module);
  return checkpoint;
}

PackedMatrix MarlinCheckpoint::load(const std::string& module) const {
  PackedMatrix packed = check_module(module);
  const TensorData qweight = files_.tensor(qweight_name(module));
  const TensorData scales = files_.tensor(scales_name(module));
  packed.qweight.resize(qweight.size / 4);
  std::memcpy(packed.qweight.data(), qweight.data, qweight.size);
  packed.scales.resize(scales.size / 2);
  std::memcpy(packed.scales.data(), scales.data, scales.size);
  return packed;
}

PackedMatrix MarlinCheckpoint::check_module(const std::string& module) const {
  const std::string context = files_.folder() + ": module '" + module + "'";
  if (!files_.contains(scales_name(module))) {
    throw_io(context + " has a qweight but no '" + scales_name(module) + "'");
  }
  const TensorData qweight = files_.tensor(qweight_name(module));
  const TensorData scales = files_.tensor(scales_name(module));
  detail::expect_dtype(qweight, {StDType::kI32}, context);
  detail::expect_rank(qweight, 2, context);
  const StDType scale_type = metadata_.scale_dtype == DType::kBFloat16 ? StDType::kBF16
                                                                       : StDType::kF16;
  detail::expect_dtype(scales, {scale_type}, context);
  detail::expect_rank(scales, 2, context);
  const std::uint64_t bands = qweight.shape[0];
  const std::uint64_t n = qweight.shape[1] / 2;
  if (bands == 0 || n == 0 || qweight.shape[1] % 2 != 0 || n % layout::kTileN != 0 ||
      bands > (1u << 26) || n > (1u << 30)) {
    throw_io(context + ": qweight " + qweight.describe() + " is not [k/16, 2n] with n a " +
             "multiple of 64");
  }
  const std::uint64_t k = bands * layout::kTileK;
  const std::uint64_t group = metadata_.group_size == -1 ? k : static_cast<std::uint64_t>(metadata_.group_size);
  if (k % group != 0) {
    throw_io(context + ": k=" + std::to_string(k) + " is not a multiple of group_size=" +
             std::to_string(group));
  }
  detail::expect_shape(scales, {k / group, n}, context);
  PackedMatrix packed;
  packed.scheme = QuantScheme::kSymmetricInt4;
  packed.k = static_cast<int>(k);
  packed.n = static_cast<int>(n);
  packed.group_size = metadata_.group_size;
  packed.scale_dtype = metadata_.scale_dtype;
  return packed;
}

}  // namespace marlin::io
