// The marlin checkpoint: a folder of safetensors files holding weights already in the kernels'
// packed layout (src/layout/packed_format.h), so loading is a copy, with no repacking.
//
//   <out>/model.safetensors                  (or model-0000i-of-0000N.safetensors + index.json)
//     <module>.qweight   I32  [k/16, n*bits/2]  packed words (INT4: 2n, INT8: 4n per band);
//                                               row b = the 16-row band b of W
//     <module>.scales    F16|BF16 [groups, n]   bits in the packed scale order
//     <module>.zeros     U8   [groups, n]       zero points in the packed order; only modules
//                                               with zero points (asymmetric INT4)
//     <module>.perm      I32  [k]               act-order: packed row i is row perm[i]; only
//                                               modules whose rows are permuted
//     every other tensor of the source model, byte for byte (embeddings, norms, lm_head, biases)
//     __metadata__: format=marlin, format_version, bits, group_size, act_order, zero_points,
//                   sparsity, scale_dtype, source  (the same block in every shard)
//   <out>/config.json                        the source's, with quantization_config replaced by
//                                            {"quant_method": "marlin", bits, group_size, ...}
//
// <module> is the Linear's name without ".weight", e.g. model.layers.0.self_attn.q_proj.
// bits, group_size and scale_dtype hold for every module. A module's scheme follows from bits and
// its tensors: 8 bits is kSymmetricInt8; 4 bits is kAsymmetricInt4 with a .zeros tensor, else
// kSymmetricInt4. act_order / zero_points say whether any module may have a .perm / .zeros
// tensor; one that needs none has none (a GPTQ layer whose g_idx needs no sorting, a layer whose
// zeros are all 8). Version 1 is version 2 without .zeros, .perm, zero_points and 8 bits; it is
// still read.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "marlin/io/model_files.h"
#include "marlin/pack.h"

namespace marlin::io {

constexpr int kMarlinFormatVersion = 2;  // written; versions 1 and 2 are read

struct CheckpointMetadata {
  int format_version = kMarlinFormatVersion;
  int bits = 4;             // 4 or 8, every module
  int group_size = 128;     // -1: per channel
  bool act_order = false;   // modules may store <module>.perm
  bool zero_points = false; // modules may store <module>.zeros (4 bits only)
  std::string sparsity = "dense";
  DType scale_dtype = DType::kFloat16;
  std::string source;  // what it was converted from, e.g. "gptq", "rtn from float16"

  std::map<std::string, std::string> to_strings() const;
  // Validates every field; throws kIo naming `label` and the key.
  static CheckpointMetadata from_strings(const std::map<std::string, std::string>& strings,
                                         const std::string& label);
};

// Tensor names of a packed module.
std::string qweight_name(const std::string& module);
std::string scales_name(const std::string& module);
std::string zeros_name(const std::string& module);
std::string perm_name(const std::string& module);

// What a packed module stores, known before its weights are made: which tensors, what shapes.
struct PackedModuleShape {
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  int k = 0;
  int n = 0;
  bool permuted = false;  // act-order rows: stores <module>.perm
};

// The shape pack(w) will have (w must pass check_packable).
PackedModuleShape packed_module_shape(const QuantizedMatrix& w);

class CheckpointWriter {
 public:
  CheckpointWriter(std::string folder, CheckpointMetadata metadata,
                   std::uint64_t max_shard_bytes = 4ull << 30);

  // A packed module; `make` is called once, when the writer reaches it, and must give a matrix
  // of exactly that shape (else kInternal). The shape must agree with the metadata (bits,
  // zero_points, act_order, group_size); throws kInvalidArgument naming the rule otherwise.
  void add_packed(const std::string& module, const PackedModuleShape& shape,
                  std::function<PackedMatrix()> make);
  // Any other tensor, written as it is.
  void add_tensor(const std::string& name, StDType dtype, std::vector<std::uint64_t> shape,
                  SafetensorsWriter::Producer producer);

  std::uint64_t total_bytes() const;
  std::size_t tensor_count() const { return entries_.size(); }

  // Writes the shards (and the index when there are several) into the folder, which must exist.
  void write(const SafetensorsWriter::Progress& progress = nullptr) const;

 private:
  struct Entry {
    std::string name;
    StDType dtype;
    std::vector<std::uint64_t> shape;
    std::uint64_t bytes;
    SafetensorsWriter::Producer producer;
  };
  void add_entry(Entry entry);
  std::string folder_;
  CheckpointMetadata metadata_;
  std::uint64_t max_shard_bytes_;
  std::vector<Entry> entries_;
};

// Writes `out_folder`/config.json: `source_config_json` with quantization_config replaced by the
// marlin one.
void write_checkpoint_config(const std::string& source_config_json, const std::string& label,
                             const CheckpointMetadata& metadata, const std::string& out_folder);

class MarlinCheckpoint {
 public:
  // Opens and validates a marlin checkpoint folder (metadata present and equal in every shard,
  // supported version, every module's tensors with consistent dtypes and shapes, .zeros and
  // .perm only where the metadata allows them).
  static MarlinCheckpoint open(const std::string& folder);

  const CheckpointMetadata& metadata() const { return metadata_; }
  const std::vector<std::string>& modules() const { return modules_; }  // sorted
  const ModelFiles& files() const { return files_; }
  // The module's packed weights (copied out of the mapping); throws kIo for a perm that is not a
  // permutation of the rows or a zero point beyond 15.
  PackedMatrix load(const std::string& module) const;

 private:
  explicit MarlinCheckpoint(ModelFiles files) : files_(std::move(files)) {}
  // Validates the module's tensors (dtypes, shapes, which ones exist); reads no weights.
  PackedModuleShape check_module(const std::string& module) const;
  ModelFiles files_;
  CheckpointMetadata metadata_;
  std::vector<std::string> modules_;
};

}  // namespace marlin::io
