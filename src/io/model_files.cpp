// Opening a model folder: single-file or sharded safetensors.
#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "io/io_util.h"
#include "marlin/io/model_files.h"

namespace marlin::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* kIndexName = "model.safetensors.index.json";

// A shard name from an untrusted index must be a plain file name inside the folder.
void check_shard_name(const std::string& index_path, const std::string& shard) {
  const bool plain = !shard.empty() && shard != "." && shard != ".." &&
                     shard.find('/') == std::string::npos &&
                     shard.find('\\') == std::string::npos &&
                     shard.find('\0') == std::string::npos;
  if (!plain) {
    throw_io(index_path + ": shard '" + shard + "' must be a plain file name in the model folder");
  }
}

std::vector<std::string> shards_from_index(const std::string& index_path,
                                           std::map<std::string, std::string>* weight_map) {
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(read_text_file(index_path));
  } catch (const nlohmann::json::exception& error) {
    throw_io(index_path + ": not valid JSON: " + error.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw_io(index_path + ": expected an object with a 'weight_map' object");
  }
  std::set<std::string> shards;
  for (const auto& item : index["weight_map"].items()) {
    if (!item.value().is_string()) {
      throw_io(index_path + ": weight_map entry '" + item.key() + "' must be a file name");
    }
    const std::string shard = item.value().get<std::string>();
    check_shard_name(index_path, shard);
    shards.insert(shard);
    (*weight_map)[item.key()] = shard;
  }
  if (shards.empty()) throw_io(index_path + ": weight_map is empty");
  return {shards.begin(), shards.end()};
}

}  // namespace

ModelFiles ModelFiles::open(const std::string& folder) {
  ModelFiles model;
  model.folder_ = folder;
  model.files_ = std::make_shared<std::vector<SafetensorsFile>>();
  if (!fs::is_directory(folder)) throw_io(folder + ": not a folder");

  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;
  const fs::path index_path = fs::path(folder) / kIndexName;
  if (fs::exists(index_path)) {
    shard_names = shards_from_index(index_path.string(), &weight_map);
  } else if (fs::exists(fs::path(folder) / "model.safetensors")) {
    shard_names = {"model.safetensors"};
  } else {
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.is_regular_file() && entry.path().extension() == ".safetensors") {
        shard_names.push_back(entry.path().filename().string());
      }
    }
    std::sort(shard_names.begin(), shard_names.end());
    if (shard_names.size() != 1) {
      throw_io(folder + ": expected " + kIndexName + ", model.safetensors or exactly one " +
               "*.safetensors file; found " + std::to_string(shard_names.size()) +
               " .safetensors files");
    }
  }

  std::map<std::string, std::size_t> shard_index;
  for (const auto& shard : shard_names) {
    shard_index[shard] = model.files_->size();
    model.files_->push_back(SafetensorsFile::open((fs::path(folder) / shard).string()));
    const std::size_t file_number = model.files_->size() - 1;
    for (const auto& tensor : model.files_->back().tensors()) {
      const auto [it, inserted] = model.where_.emplace(tensor.name, file_number);
      if (!inserted) {
        throw_io(folder + ": tensor '" + tensor.name + "' is in both " +
                 (*model.files_)[it->second].path() + " and " + model.files_->back().path());
      }
    }
  }
  for (const auto& [name, shard] : weight_map) {
    const auto it = model.where_.find(name);
    if (it == model.where_.end() || it->second != shard_index[shard]) {
      throw_io(index_path.string() + ": tensor '" + name + "' is listed in shard '" + shard +
               "' but that shard does not hold it");
    }
  }
  for (const auto& [name, file] : model.where_) model.names_.push_back(name);
  return model;
}

TensorData ModelFiles::tensor(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) throw_io(folder_ + ": no tensor named '" + name + "'");
  return (*files_)[it->second].tensor(name);
}

const TensorInfo& ModelFiles::info(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) throw_io(folder_ + ": no tensor named '" + name + "'");
  return *(*files_)[it->second].header().find(name);
}

std::uint64_t ModelFiles::total_bytes() const {
  std::uint64_t total = 0;
  for (const auto& file : *files_) total += file.header().data_size;
  return total;
}

}  // namespace marlin::io
