// A model's weights on disk: one safetensors file, or several shards listed by
// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file}}). Tensor lookups go
// to the right shard; all shards are memory-mapped.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "marlin/io/safetensors.h"

namespace marlin::io {

class ModelFiles {
 public:
  // Opens `folder`: the index if present, else `model.safetensors`, else the single `*.safetensors`
  // file there. Throws kIo when there is none, when the index names a shard outside the folder
  // or a tensor its shard lacks, or when two shards hold the same tensor.
  static ModelFiles open(const std::string& folder);

  const std::string& folder() const { return folder_; }
  const std::vector<std::string>& names() const { return names_; }  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  TensorData tensor(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  const std::vector<SafetensorsFile>& files() const { return *files_; }
  std::uint64_t total_bytes() const;  // tensor bytes over all shards

 private:
  std::string folder_;
  std::shared_ptr<std::vector<SafetensorsFile>> files_;
  std::map<std::string, std::size_t> where_;  // tensor name -> index in files_
  std::vector<std::string> names_;
};

}  // namespace marlin::io
