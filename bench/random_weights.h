// Random benchmark data on the host: activations, and a quantized layer in both forms the
// benchmark needs (packed for marlin, dequantized fp16 for cuBLAS).
//
// Random packed words and scales are generated directly (instead of quantizing random floats with
// marlin::quantize_rtn and packing), which keeps the host preparation of a 8192 x 57344 layer to
// seconds; the data is deterministic for a seed, and spread over all host cores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cublas_baseline.h"
#include "marlin/pack.h"

namespace marlin::bench {

struct RandomLayer {
  PackedMatrix packed;  // symmetric INT4, fp16 scales: w = (q - 8) * s
  // fp16 bits of the same weights, dequantized exactly as the kernel does ((q - 8) * s rounded to
  // fp16), stored in `layout` for cuBLAS.
  std::vector<std::uint16_t> dequantized;
  WeightLayout layout = WeightLayout::kNK;
};

// Codes uniform in [0, 15], scales uniform in [0.5, 1.5] / 64 (rounded to fp16), so that with
// activations in [-1, 1] outputs stay far from the fp16 range even for k = 28672.
RandomLayer make_random_layer(int k, int n, int group_size, WeightLayout fp16_layout,
                              std::uint64_t seed);

// `count` fp16 values (bits) uniform in [-1, 1].
std::vector<std::uint16_t> random_fp16(std::size_t count, std::uint64_t seed);

}  // namespace marlin::bench
