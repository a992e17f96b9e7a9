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
#include "layout/act_order.h"
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

bool parse_bool(const std::map<std::string, std::string>& strings, const std::string& key,
                const std::string& label) {
  const auto it = strings.find(key);
  if (it == strings.end()) throw_io(label + ": metadata lacks '" + key + "'");
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  throw_io(label + ": metadata '" + key + "'='" + it->second + "' is not true or false");
}

StDType scale_st_dtype(DType dtype) {
  return dtype == DType::kBFloat16 ? StDType::kBF16 : StDType::kF16;
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
std::string zeros_name(const std::string& module) { return module + ".zeros"; }
std::string perm_name(const std::string& module) { return module + ".perm"; }

PackedModuleShape packed_module_shape(const QuantizedMatrix& w) {
  return {w.scheme, w.k, w.n, !layout::act_order_permutation(w).empty()};
}

std::map<std::string, std::string> CheckpointMetadata::to_strings() const {
  return {{"format", "marlin"},
          {"format_version", std::to_string(format_version)},
          {"bits", std::to_string(bits)},
          {"group_size", std::to_string(group_size)},
          {"act_order", act_order ? "true" : "false"},
          {"zero_points", zero_points ? "true" : "false"},
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
  if (metadata.format_version < 1 || metadata.format_version > kMarlinFormatVersion) {
    throw_io(label + ": format_version " + std::to_string(metadata.format_version) +
             " is not supported (this build reads 1 to " + std::to_string(kMarlinFormatVersion) +
             ")");
  }
  const bool version_1 = metadata.format_version == 1;
  metadata.bits = parse_int(strings, "bits", label);
  if (metadata.bits != 4 && (metadata.bits != 8 || version_1)) {
    throw_io(label + ": bits=" + std::to_string(metadata.bits) + "; format_version " +
             std::to_string(metadata.format_version) + " holds " + (version_1 ? "4" : "4 or 8"));
  }
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
  metadata.act_order = parse_bool(strings, "act_order", label);
  metadata.zero_points = version_1 ? false : parse_bool(strings, "zero_points", label);
  if (version_1 && metadata.act_order) {
    throw_io(label + ": act_order=true; format_version 1 holds no act-order weights");
  }
  if (metadata.zero_points && metadata.bits != 4) {
    throw_io(label + ": zero_points=true with bits=" + std::to_string(metadata.bits) +
             "; only 4-bit weights have zero points (INT8 is symmetric)");
  }
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

void CheckpointWriter::add_packed(const std::string& module, const PackedModuleShape& shape,
                                  std::function<PackedMatrix()> make) {
  const int k = shape.k;
  const int n = shape.n;
  const std::string context = "checkpoint writer: module '" + module + "'";
  require(k > 0 && n > 0 && k % layout::kTileK == 0 && n % layout::kTileN == 0,
          context + " k=" + std::to_string(k) + ", n=" + std::to_string(n) +
              " must be multiples of 16 and 64");
  const int group = metadata_.group_size == -1 ? k : metadata_.group_size;
  require(k % group == 0, context + " k=" + std::to_string(k) +
                              " is not a multiple of group_size=" + std::to_string(group));
  const int bits = scheme_bits(shape.scheme);
  require(bits == metadata_.bits, context + " has " + std::to_string(bits) +
                                      "-bit codes; the checkpoint's metadata says bits=" +
                                      std::to_string(metadata_.bits));
  const bool has_zeros = scheme_has_zeros(shape.scheme);
  require(!has_zeros || metadata_.zero_points,
          context + " has zero points; the checkpoint's metadata says zero_points=false");
  require(!shape.permuted || metadata_.act_order,
          context + " has act-order rows; the checkpoint's metadata says act_order=false");
  require(!shape.permuted || metadata_.group_size != -1,
          context + " has act-order rows with per-channel scales (nothing to sort)");

  const auto groups = static_cast<std::uint64_t>(k / group);
  const auto k64 = static_cast<std::uint64_t>(k);
  const auto n64 = static_cast<std::uint64_t>(n);
  // All tensors of the module come from one pack() call: the qweight producer makes it, the
  // others copy their part, the last one frees it (the writer runs producers in the order they
  // were added).
  auto packed = std::make_shared<std::optional<PackedMatrix>>();
  const auto copy_part = [packed](auto member, bool last) {
    return [packed, member, last](std::vector<std::uint8_t>& out) {
      const auto& values = (**packed).*member;
      out.resize(values.size() * sizeof(values[0]));
      std::memcpy(out.data(), values.data(), out.size());
      if (last) packed->reset();
    };
  };
  const std::uint64_t words = k64 * n64 * static_cast<std::uint64_t>(bits) / 32;
  add_entry({qweight_name(module), StDType::kI32,
             {k64 / layout::kTileK, n64 * static_cast<std::uint64_t>(bits) / 2}, words * 4,
             // By value, not `this`: the producer runs at write time, after the writer may move.
             [packed, make, shape, context, copy_part, group_size = metadata_.group_size,
              scale_dtype = metadata_.scale_dtype](std::vector<std::uint8_t>& out) {
               *packed = make();
               const PackedMatrix& p = **packed;
               if (p.scheme != shape.scheme || p.k != shape.k || p.n != shape.n ||
                   p.group_size != group_size || p.scale_dtype != scale_dtype ||
                   p.perm.empty() == shape.permuted) {
                 throw Error(ErrorCode::kInternal,
                             context + " produced a different scheme, shape, group size, scale "
                                       "dtype or act-order than planned");
               }
               copy_part(&PackedMatrix::qweight, false)(out);
             }});
  const bool scales_last = !has_zeros && !shape.permuted;
  add_entry({scales_name(module), scale_st_dtype(metadata_.scale_dtype), {groups, n64},
             groups * n64 * 2, copy_part(&PackedMatrix::scales, scales_last)});
  if (has_zeros) {
    add_entry({zeros_name(module), StDType::kU8, {groups, n64}, groups * n64,
               copy_part(&PackedMatrix::zeros, !shape.permuted)});
  }
  if (shape.permuted) {
    add_entry({perm_name(module), StDType::kI32, {k64}, k64 * 4,
               copy_part(&PackedMatrix::perm, true)});
  }
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
                                   {"zero_points", metadata.zero_points},
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
  const PackedModuleShape shape = check_module(module);
  PackedMatrix packed;
  packed.scheme = shape.scheme;
  packed.k = shape.k;
  packed.n = shape.n;
  packed.group_size = metadata_.group_size;
  packed.scale_dtype = metadata_.scale_dtype;
  const auto copy = [&](const std::string& name, auto& values) {
    const TensorData tensor = files_.tensor(name);
    values.resize(tensor.size / sizeof(values[0]));
    std::memcpy(values.data(), tensor.data, tensor.size);
  };
  copy(qweight_name(module), packed.qweight);
  copy(scales_name(module), packed.scales);
  const std::string context = files_.folder() + ": module '" + module + "'";
  if (scheme_has_zeros(shape.scheme)) {
    copy(zeros_name(module), packed.zeros);
    for (std::size_t i = 0; i < packed.zeros.size(); ++i) {
      if (packed.zeros[i] <= 15) continue;
      throw_io(context + ": '" + zeros_name(module) + "' holds " +
               std::to_string(packed.zeros[i]) + " at " + std::to_string(i) +
               "; zero points are 4-bit (0..15)");
    }
  }
  if (shape.permuted) {
    copy(perm_name(module), packed.perm);
    // The kernels gather A's columns through perm: a bad entry would read out of bounds.
    if (!layout::is_permutation(packed.perm, shape.k)) {
      throw_io(context + ": '" + perm_name(module) + "' does not hold each row 0.." +
               std::to_string(shape.k - 1) + " exactly once");
    }
  }
  return packed;
}

PackedModuleShape MarlinCheckpoint::check_module(const std::string& module) const {
  const std::string context = files_.folder() + ": module '" + module + "'";
  if (!files_.contains(scales_name(module))) {
    throw_io(context + " has a qweight but no '" + scales_name(module) + "'");
  }
  const TensorData qweight = files_.tensor(qweight_name(module));
  const TensorData scales = files_.tensor(scales_name(module));
  detail::expect_dtype(qweight, {StDType::kI32}, context);
  detail::expect_rank(qweight, 2, context);
  detail::expect_dtype(scales, {scale_st_dtype(metadata_.scale_dtype)}, context);
  detail::expect_rank(scales, 2, context);
  // A band of 16 rows is 16 * n * bits / 32 = n * bits / 2 words.
  const auto words_per_column = static_cast<std::uint64_t>(metadata_.bits / 2);
  const std::uint64_t bands = qweight.shape[0];
  const std::uint64_t n = qweight.shape[1] / words_per_column;
  if (bands == 0 || n == 0 || qweight.shape[1] % words_per_column != 0 ||
      n % layout::kTileN != 0 || bands > (1u << 26) || n > (1u << 30)) {
    throw_io(context + ": qweight " + qweight.describe() + " is not [k/16, " +
             std::to_string(words_per_column) + "n] (bits=" + std::to_string(metadata_.bits) +
             ") with n a multiple of 64");
  }
  const std::uint64_t k = bands * layout::kTileK;
  const std::uint64_t group = metadata_.group_size == -1 ? k : static_cast<std::uint64_t>(metadata_.group_size);
  if (k % group != 0) {
    throw_io(context + ": k=" + std::to_string(k) + " is not a multiple of group_size=" +
             std::to_string(group));
  }
  detail::expect_shape(scales, {k / group, n}, context);
  PackedModuleShape shape;
  shape.scheme = metadata_.bits == 8 ? QuantScheme::kSymmetricInt8 : QuantScheme::kSymmetricInt4;
  shape.k = static_cast<int>(k);
  shape.n = static_cast<int>(n);
  if (files_.contains(zeros_name(module))) {
    if (!metadata_.zero_points) {
      throw_io(context + " has '" + zeros_name(module) + "', but the metadata says " +
               "zero_points=false");
    }
    const TensorData zeros = files_.tensor(zeros_name(module));
    detail::expect_dtype(zeros, {StDType::kU8}, context);
    detail::expect_shape(zeros, {k / group, n}, context);
    shape.scheme = QuantScheme::kAsymmetricInt4;
  }
  if (files_.contains(perm_name(module))) {
    if (!metadata_.act_order || metadata_.group_size == -1) {
      throw_io(context + " has '" + perm_name(module) + "', but the metadata says " +
               (metadata_.act_order ? "group_size=-1 (per channel: nothing to sort)"
                                    : "act_order=false"));
    }
    const TensorData perm = files_.tensor(perm_name(module));
    detail::expect_dtype(perm, {StDType::kI32}, context);
    detail::expect_shape(perm, {k}, context);
    shape.permuted = true;
  }
  return shape;
}

}  // namespace marlin::io
