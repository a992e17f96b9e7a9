// Quantized weights in the plain (unpacked) form, and the CPU reference math: round-to-nearest
// quantizers, dequantization and the reference GEMM. Slow and obviously right: every kernel is
// tested against these functions.
#pragma once

#include <cstdint>
#include <vector>

#include "marlin/dtype.h"

namespace marlin {

// The per-channel group size: one group spans all of k.
constexpr int kPerChannel = -1;

enum class QuantScheme : std::uint8_t {
  kSymmetricInt4,   // q in [0,15], implicit zero 8 (GPTQ convention): w = (q - 8) * s
  kAsymmetricInt4,  // q in [0,15], stored zero z in [0,15] (AWQ convention): w = (q - z) * s
  kSymmetricInt8,   // q in [0,255], implicit zero 128: w = (q - 128) * s
};

int scheme_bits(QuantScheme scheme);
bool scheme_has_zeros(QuantScheme scheme);
int scheme_implicit_zero(QuantScheme scheme);  // 8 or 128; -1 for stored zeros

// A k x n weight matrix W (C = A * W), quantized, unpacked: one byte per code.
struct QuantizedMatrix {
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  int k = 0;
  int n = 0;
  int group_size = 128;                 // rows of k per group; kPerChannel for one group
  DType scale_dtype = DType::kFloat16;  // scales below are exactly representable in this type
  std::vector<std::uint8_t> q;          // k x n codes, row-major
  std::vector<float> scales;            // groups x n
  std::vector<std::uint8_t> zeros;      // groups x n, only for kAsymmetricInt4
  std::vector<std::int32_t> g_idx;      // k entries (act-order: group of row i), or empty

  int groups() const;                 // number of scale rows
  int effective_group_size() const;   // group_size, or k for kPerChannel
  int group_of_row(int row) const;    // g_idx[row] if present, else row / group size
};

// Throws kInvalidArgument with a precise message if the fields are inconsistent.
void validate(const QuantizedMatrix& w);

// Round-to-nearest quantization of a row-major k x n matrix `w` (fp32 values).
// Scales are rounded to `scale_dtype` before codes are chosen, so dequant(quant(w)) uses exactly
// the scales the kernels will see. |w - dequant(q)| <= s/2 for every element that is not clipped.
QuantizedMatrix quantize_rtn(const std::vector<float>& w, int k, int n, QuantScheme scheme,
                             int group_size, DType scale_dtype = DType::kFloat16);

// Dequantized k x n matrix (fp32; exact products of codes and scales).
std::vector<float> dequantize(const QuantizedMatrix& w);

// The reference GEMM C[m,n] = A[m,k] * W[k,n] (+ bias[n]) with fp64 accumulation. A and W are
// given as fp32 values (already rounded to the activation type by the caller where that matters).
std::vector<double> reference_gemm(const std::vector<float>& a, const std::vector<float>& w,
                                   int m, int n, int k, const std::vector<float>* bias = nullptr);

}  // namespace marlin
