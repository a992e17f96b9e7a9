// Importers: quantized weights as other tools store them -> marlin::QuantizedMatrix (plain k x n
// codes, one byte each). Each function reads the tensors of one linear layer, checks every dtype
// and shape against the format, and throws marlin::Error(kIo) naming the tensor on a mismatch.
//
// Orientation: PyTorch's Linear keeps weight as [out = n, in = k]; our W is k x n (C = A * W).
#pragma once

#include <optional>

#include "marlin/io/safetensors.h"
#include "marlin/quant.h"

namespace marlin::io {

// Where the zero point of a GPTQ checkpoint is stored.
enum class GptqZeros {
  kMinusOne,  // "v1" (AutoGPTQ / GPTQ-for-LLaMa): qzeros holds zero - 1 (symmetric: 7, 8-bit 127)
  kStored,    // "gptq_v2": qzeros holds the zero itself (symmetric: 8, 8-bit 128)
};

struct GptqTensors {
  TensorData qweight;               // int32 [k/8, n]: 8 codes per word along k, low nibble first
                                    // (8-bit: [k/4, n], 4 codes per word, low byte first)
  TensorData qzeros;                // int32 [groups, n/8]: 8 zeros per word along n (8-bit: n/4)
  TensorData scales;                // fp16/bf16 [groups, n]
  std::optional<TensorData> g_idx;  // int32 [k]: group of each row (act-order)
};

// 4-bit or 8-bit GPTQ (`bits`; the word layouts of qweight and qzeros above hold 32 / bits codes
// each). `group_size` is the checkpoint's (-1: per channel). 4-bit: kSymmetricInt4 when every
// zero is 8, else kAsymmetricInt4. 8-bit: kSymmetricInt8, every zero must be 128 (else
// kUnsupported: there is no asymmetric INT8). g_idx is kept only if it differs from
// row / group_size. With `symmetric_expected`, zeros other than 8 (128) are a kIo error (catches
// a wrong zero convention).
QuantizedMatrix import_gptq(const GptqTensors& tensors, int bits, int group_size,
                            GptqZeros zeros, bool symmetric_expected);

struct AwqTensors {
  TensorData qweight;  // int32 [k, n/8]: 8 codes per word along n, AWQ order
  TensorData qzeros;   // int32 [groups, n/8]: same order
  TensorData scales;   // fp16/bf16 [groups, n]
};

// AWQ (GEMM packing). Within each int32 the nibble at bit 4*i holds column 8*word + kAwqOrder[i]:
// AWQ packs the columns in the order 0, 2, 4, 6, 1, 3, 5, 7. Result: kAsymmetricInt4.
constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
QuantizedMatrix import_awq(const AwqTensors& tensors, int group_size);

struct CompressedTensors {
  TensorData weight_packed;                     // int32 [n, k/8]: 8 codes per word along k
  TensorData weight_scale;                      // fp16/bf16/fp32 [n, groups]
  std::optional<TensorData> weight_zero_point;  // int8/int32 [n, groups], or int32 [n/8, groups]
  std::optional<TensorData> weight_shape;       // int32/int64 [2] = {n, k}
  std::optional<TensorData> weight_g_idx;       // int32 [k]
};

// compressed-tensors "pack-quantized", 4-bit. Our reading of the published format (the
// compressed-tensors library's pack_to_int32): codes are signed values v in [-8, 7], stored as
// v + 8 (unsigned), eight per int32 along k, the first in the low nibble; dequant is
// (v - zero_point) * scale. So our code q = v + 8 with zero = zero_point + 8; symmetric
// checkpoints (no zero point) become kSymmetricInt4 with the implicit zero 8. Zero points are
// signed too: unpacked (int8/int32 [n, groups]) or packed along n like the weights
// (int32 [ceil(n/8), groups], value + 8 per nibble).
QuantizedMatrix import_compressed_tensors(const CompressedTensors& tensors, int group_size);

// Helpers shared with the exporters and tests: fp16/bf16/fp32 tensors to fp32 values, integer
// tensors to int64; throw kIo naming the tensor for any other dtype.
std::vector<float> tensor_to_floats(const TensorData& tensor);
std::vector<std::int64_t> tensor_to_ints(const TensorData& tensor);

}  // namespace marlin::io
