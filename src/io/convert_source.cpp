// Reading the input of convert: kind detection, module discovery, import or RTN per module.
#include "io/convert_source.h"

#include <regex>

#include "io/io_util.h"
#include "io/tensor_checks.h"
#include "marlin/io/convert.h"
#include "marlin/io/importers.h"

namespace marlin::io {

bool is_quantized_linear(const std::string& module) {
  static const std::regex pattern(
      R"(model\.layers\.[0-9]+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj))");
  return std::regex_match(module, pattern);
}

namespace detail {

namespace {

// The tensor that marks a module in each kind of checkpoint, and the others it may own.
struct KindTensors {
  std::string marker;
  std::vector<std::string> others;
};

KindTensors kind_tensors(const std::optional<QuantizationConfig>& quantization) {
  if (!quantization) return {"weight", {}};
  switch (quantization->format) {
    case CheckpointFormat::kGptq:
    case CheckpointFormat::kGptqV2: return {"qweight", {"qzeros", "scales", "g_idx"}};
    case CheckpointFormat::kAwq: return {"qweight", {"qzeros", "scales"}};
    case CheckpointFormat::kCompressedTensors:
      return {"weight_packed", {"weight_scale", "weight_zero_point", "weight_shape", "weight_g_idx"}};
    case CheckpointFormat::kMarlin: break;
  }
  return {"", {}};
}

std::optional<TensorData> optional_tensor(const ModelFiles& files, const std::string& name) {
  if (!files.contains(name)) return std::nullopt;
  return files.tensor(name);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ConvertSource::ConvertSource(const std::string& folder, int float_group_size, int float_bits)
    : files_(ModelFiles::open(folder)), config_(load_model_config(folder)) {
  const auto& quantization = config_.quantization;
  if (quantization && quantization->format == CheckpointFormat::kMarlin) {
    throw Error(ErrorCode::kInvalidArgument, folder + " is already a marlin checkpoint");
  }
  if (quantization) {
    // The importers read 4-bit codes of every format, and 8-bit codes of GPTQ (whose words
    // simply hold 4 codes instead of 8).
    const bool gptq = quantization->format == CheckpointFormat::kGptq ||
                      quantization->format == CheckpointFormat::kGptqV2;
    if (quantization->bits != 4 && !(quantization->bits == 8 && gptq)) {
      throw Error(ErrorCode::kUnsupported,
                  folder + ": " + std::to_string(quantization->bits) + "-bit " +
                      checkpoint_format_name(quantization->format) + " checkpoints are not " +
                      "supported (4-bit checkpoints, and 8-bit GPTQ)");
    }
  } else {
    require(float_bits == 4 || float_bits == 8,
            "convert: bits=" + std::to_string(float_bits) + " must be 4 or 8");
  }
  bits_ = quantization ? quantization->bits : float_bits;
  group_size_ = quantization ? quantization->group_size : float_group_size;
  kind_ = quantization ? checkpoint_format_name(quantization->format) : "";

  const KindTensors kind = kind_tensors(quantization);
  const std::string marker = "." + kind.marker;
  for (const auto& name : files_.names()) {
    for (const char* quantized_marker : {".qweight", ".weight_packed"}) {
      if (!quantization && ends_with(name, quantized_marker)) {
        throw_io(folder + ": tensor '" + name + "' looks quantized but config.json has no " +
                 "quantization_config (and there is no quantize_config.json)");
      }
    }
    if (!ends_with(name, marker)) continue;
    const std::string module = name.substr(0, name.size() - marker.size());
    if (!is_quantized_linear(module)) {
      if (quantization) {
        throw Error(ErrorCode::kUnsupported,
                    folder + ": quantized tensor '" + name + "' is not one of the linear layers " +
                        "convert knows (q/k/v/o_proj, gate/up/down_proj)");
      }
      continue;  // float embeddings, norms, lm_head: copied
    }
    Module entry;
    entry.name = module;
    entry.tensors.push_back(name);
    for (const auto& other : kind.others) {
      if (files_.contains(module + "." + other)) entry.tensors.push_back(module + "." + other);
    }
    const TensorInfo& info = files_.info(name);
    if (info.shape.size() != 2) {
      throw_io(folder + ": tensor '" + name + "' is " + info.describe() + "; expected 2-D");
    }
    if (!quantization) {
      if (info.dtype != StDType::kF16 && info.dtype != StDType::kBF16 &&
          info.dtype != StDType::kF32) {
        throw_io(folder + ": tensor '" + name + "' is " + info.describe() +
                 "; expected F16, BF16 or F32 weights");
      }
      const std::string dtype_kind = info.dtype == StDType::kF16    ? "float16"
                                     : info.dtype == StDType::kBF16 ? "bfloat16"
                                                                    : "float32";
      if (kind_.empty()) kind_ = dtype_kind;
      if (kind_ != dtype_kind) kind_ = "mixed float";
      entry.n = static_cast<int>(std::min<std::uint64_t>(info.shape[0], 1u << 30));
      entry.k = static_cast<int>(std::min<std::uint64_t>(info.shape[1], 1u << 30));
    }
    for (const auto& tensor : entry.tensors) consumed_[tensor] = true;
    modules_.push_back(std::move(entry));
  }
  if (modules_.empty()) {
    throw_io(folder + ": found no linear layers (" + marker + " tensors of q/k/v/o_proj, " +
             "gate/up/down_proj) to convert");
  }
  if (kind_.empty()) kind_ = "float";
}

QuantizedMatrix ConvertSource::matrix(const Module& module) const {
  const auto& quantization = config_.quantization;
  const auto tensor = [&](const char* suffix) { return files_.tensor(module.name + "." + suffix); };
  if (!quantization) {
    const TensorData weight = tensor("weight");
    const std::vector<float> w = float_weights(module);
    const DType scale_dtype = weight.dtype == StDType::kBF16 ? DType::kBFloat16 : DType::kFloat16;
    return quantize_rtn(w, module.k, module.n,
                        bits_ == 8 ? QuantScheme::kSymmetricInt8 : QuantScheme::kSymmetricInt4,
                        group_size_, scale_dtype);
  }
  switch (quantization->format) {
    case CheckpointFormat::kGptq:
    case CheckpointFormat::kGptqV2: {
      GptqTensors t{tensor("qweight"), tensor("qzeros"), tensor("scales"),
                    optional_tensor(files_, module.name + ".g_idx")};
      return import_gptq(t, bits_, group_size_,
                         quantization->format == CheckpointFormat::kGptq ? GptqZeros::kMinusOne
                                                                         : GptqZeros::kStored,
                         quantization->symmetric);
    }
    case CheckpointFormat::kAwq:
      return import_awq({tensor("qweight"), tensor("qzeros"), tensor("scales")}, group_size_);
    case CheckpointFormat::kCompressedTensors: {
      CompressedTensors t;
      t.weight_packed = tensor("weight_packed");
      t.weight_scale = tensor("weight_scale");
      t.weight_zero_point = optional_tensor(files_, module.name + ".weight_zero_point");
      t.weight_shape = optional_tensor(files_, module.name + ".weight_shape");
      t.weight_g_idx = optional_tensor(files_, module.name + ".weight_g_idx");
      return import_compressed_tensors(t, group_size_);
    }
    case CheckpointFormat::kMarlin: break;
  }
  throw Error(ErrorCode::kInternal, "convert: unknown checkpoint format");
}

std::vector<float> ConvertSource::float_weights(const Module& module) const {
  const TensorData weight = files_.tensor(module.name + ".weight");
  const std::vector<float> n_by_k = tensor_to_floats(weight);  // PyTorch Linear: [out=n, in=k]
  std::vector<float> k_by_n(n_by_k.size());
  for (int j = 0; j < module.n; ++j) {
    for (int i = 0; i < module.k; ++i) {
      k_by_n[static_cast<std::size_t>(i) * module.n + j] =
          n_by_k[static_cast<std::size_t>(j) * module.k + i];
    }
  }
  return k_by_n;
}

}  // namespace detail
}  // namespace marlin::io
