// Random benchmark data on the host: activations, and a quantized layer in both forms the
// benchmark needs (packed for marlin, dequantized to 16 bits for cuBLAS).
//
// Random packed words, scales, zero points and act-order permutations are generated directly
// (instead of quantizing random floats with marlin::quantize_rtn and packing, which is serial),
// and the dequantized copy is made band by band of rows on all host cores, so that even the
// 8192 x 57344 INT8 layer takes seconds; the data is deterministic for a seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cublas_baseline.h"
#include "marlin/dtype.h"
#include "marlin/pack.h"
#include "marlin/quant.h"

namespace marlin::bench {

// How a layer's weights are quantized, and the 16-bit type the GEMM runs in.
struct WeightSpec {
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  DType dtype = DType::kFloat16;  // of the scales, of A and C, and of the dequantized copy
  int group_size = 128;           // 32, 64, 128 or kPerChannel
  bool act_order = false;         // GPTQ desc_act: groups of rows in a random order (needs groups)
};

struct RandomLayer {
  PackedMatrix packed;  // as pack() would write it for `spec` (perm included for act-order)
  // The same weights dequantized exactly as the kernel does ((q - zero) * s rounded to spec.dtype),
  // in the original row order, stored in `layout` for cuBLAS.
  std::vector<std::uint16_t> dequantized;
  WeightLayout layout = WeightLayout::kNK;
};

// Codes uniform over their range, zero points uniform in [0, 15], scales uniform in
// [0.5, 1.5] / 64 (INT4) or / 1024 (INT8: the same weight range as INT4), rounded to spec.dtype,
// so that with activations in [-1, 1] outputs stay far from the fp16 range even for k = 28672.
// Act-order: a uniformly random permutation of the rows (GPTQ's order by Hessian diagonal is
// unrelated to the row index), so every group gathers its rows from all over A.
// k must be a multiple of 128 (see random_weights.cpp), n of 64.
RandomLayer make_random_layer(int k, int n, const WeightSpec& spec, WeightLayout layout,
                              std::uint64_t seed);

// `count` values uniform in [-1, 1] as fp16 or bf16 bits.
std::vector<std::uint16_t> random_activations(std::size_t count, DType dtype, std::uint64_t seed);

}  // namespace marlin::bench
