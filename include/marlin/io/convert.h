// `marlin convert`: a Hugging Face model folder (FP16/BF16/FP32, GPTQ, AWQ or compressed-tensors)
// -> a marlin checkpoint (checkpoint.h). The linear layers of Llama / Mistral / Qwen2 decoders
// (q/k/v/o_proj, gate/up/down_proj) are quantized or imported, then packed; every other tensor
// is copied byte for byte.
//
// Safety rules: the input folder is never written to or deleted from; the output is built in a
// fresh staging folder next to it, verified, and only then renamed into place, so a failed run
// leaves no partial output. An existing output is replaced only with `force`, and never when the
// input and output paths are equal or one lies inside the other.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace marlin::io {

// True for the Linear modules convert quantizes, e.g. "model.layers.3.mlp.down_proj".
bool is_quantized_linear(const std::string& module);

struct ConvertOptions {
  std::string input;
  std::string output;
  int group_size = 128;  // float input only (RTN); -1 = per channel
  int bits = 4;          // float input only (RTN): 4 (symmetric INT4) or 8 (symmetric INT8)
  bool force = false;
  std::uint64_t max_shard_bytes = 4ull << 30;
  int verify_samples = 256;  // dequantized values spot-checked per module
};

struct ConvertProgress {
  std::size_t tensors_done = 0;
  std::size_t tensors_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  std::string current;  // tensor just written
};

struct ConvertSummary {
  std::string input_kind;  // "float16", "bfloat16", "float32", "gptq", "gptq_v2", "awq", ...
  std::size_t quantized_modules = 0;
  std::size_t copied_tensors = 0;
  std::uint64_t input_bytes = 0;   // tensor bytes of the input
  std::uint64_t output_bytes = 0;  // bytes of the written safetensors files
  std::size_t verified_values = 0;
  // Packed layers the dense GEMM cannot run ("module: rule", marlin/gemm_shapes.h): the
  // checkpoint is still written (it is exact), but these layers need another kernel.
  std::vector<std::string> gemm_unsupported;
};

// Quantized inputs keep their scheme: symmetric INT4, INT4 with zero points (AWQ, asymmetric
// GPTQ / compressed-tensors), symmetric INT8 (8-bit GPTQ), act-order rows (GPTQ desc_act).
// Throws marlin::Error: kInvalidArgument for unsafe or refused paths, kUnsupported when some
// linear layers cannot be packed (all of them are listed, with the rule), kIo for bad input.
ConvertSummary convert_checkpoint(const ConvertOptions& options,
                                  const std::function<void(const ConvertProgress&)>& progress =
                                      nullptr);

}  // namespace marlin::io
