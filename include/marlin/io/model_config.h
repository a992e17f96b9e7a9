// Hugging Face model configs (config.json) for the decoder families marlin runs (Llama, Mistral,
// Qwen2), and the quantization config of an already-quantized checkpoint (`quantization_config`
// inside config.json, or GPTQ's separate quantize_config.json).
#pragma once

#include <optional>
#include <string>

namespace marlin::io {

// RoPE scaling as config.json states it ("rope_scaling"); type is empty when absent.
struct RopeScaling {
  std::string type;  // "linear", "dynamic", "yarn", "llama3", ...
  double factor = 1.0;
  double low_freq_factor = 0.0;                // llama3
  double high_freq_factor = 0.0;               // llama3
  long original_max_position_embeddings = 0;   // llama3, yarn
};

enum class CheckpointFormat {
  kGptq,               // GPTQ: qweight packed along k, zeros stored as zero - 1 ("v1")
  kGptqV2,             // GPTQ with the zero stored as is (checkpoint_format "gptq_v2")
  kAwq,                // AWQ GEMM: qweight packed along n in interleaved order
  kCompressedTensors,  // compressed-tensors "pack-quantized"
  kMarlin,             // our own checkpoint (see checkpoint.h)
};
const char* checkpoint_format_name(CheckpointFormat format);

struct QuantizationConfig {
  CheckpointFormat format = CheckpointFormat::kGptq;
  int bits = 4;
  int group_size = 128;     // -1: per channel
  bool desc_act = false;    // act-order: g_idx present and not trivial
  bool symmetric = true;    // GPTQ "sym"; AWQ: !zero_point; compressed-tensors "symmetric"
};

struct ModelConfig {
  std::string model_type;    // "llama", "mistral", "qwen2"
  std::string architecture;  // first of "architectures", e.g. "LlamaForCausalLM"
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // defaults to num_attention_heads
  int head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int intermediate_size = 0;
  int vocab_size = 0;
  long max_position_embeddings = 0;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  std::string torch_dtype;  // "float16", "bfloat16", "float32" (empty when absent)
  std::optional<QuantizationConfig> quantization;
};

// Parses config.json text; `label` names the file in errors (marlin::Error kIo). Required fields
// and their types are checked; a missing required field is named in the error.
ModelConfig parse_model_config(const std::string& json_text, const std::string& label);

// Parses a quantization config object (the value of "quantization_config", or the whole of
// quantize_config.json, which lacks "quant_method" and means GPTQ).
QuantizationConfig parse_quantization_config(const std::string& json_text,
                                             const std::string& label);

// Reads `folder`/config.json and, if present and config.json has no quantization_config,
// `folder`/quantize_config.json.
ModelConfig load_model_config(const std::string& folder);

}  // namespace marlin::io
