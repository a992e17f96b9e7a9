// The input side of convert: which kind of checkpoint a folder holds, which tensors belong to
// which linear module, and each module's weights as a QuantizedMatrix (imported, or quantized
// with RTN for float models).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "marlin/io/model_config.h"
#include "marlin/io/model_files.h"
#include "marlin/quant.h"

namespace marlin::io::detail {

struct Module {
  std::string name;
  int k = 0;
  int n = 0;
  std::vector<std::string> tensors;  // the input tensors it consumes
};

class ConvertSource {
 public:
  // Detects the kind from the config's quantization section (and checks the tensors agree).
  // Float models are quantized with RTN to `float_bits` (4 or 8) in groups of `float_group_size`.
  ConvertSource(const std::string& folder, int float_group_size, int float_bits);
  ConvertSource(const ConvertSource&) = delete;
  ConvertSource& operator=(const ConvertSource&) = delete;

  const std::string& kind() const { return kind_; }
  const ModelFiles& files() const { return files_; }
  const ModelConfig& config() const { return config_; }
  const std::vector<Module>& modules() const { return modules_; }
  bool consumed(const std::string& tensor) const { return consumed_.count(tensor) != 0; }
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }  // 4 or 8, every module

  // The module's weights as marlin sees them (deterministic: calling twice gives equal results).
  QuantizedMatrix matrix(const Module& module) const;
  // Float input only: the original k x n weights (for verification).
  std::vector<float> float_weights(const Module& module) const;
  bool is_float() const { return !config_.quantization.has_value(); }

 private:
  std::string kind_;
  ModelFiles files_;
  ModelConfig config_;
  int group_size_ = 128;
  int bits_ = 4;
  std::vector<Module> modules_;
  std::map<std::string, bool> consumed_;
};

}  // namespace marlin::io::detail
