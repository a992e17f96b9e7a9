// Packing plain quantized weights into the kernels' tiled layout (src/layout/packed_format.h
// defines it, with its diagram), and the exact inverse.
#pragma once

#include <cstdint>
#include <vector>

#include "marlin/quant.h"

namespace marlin {

// Weights as the kernels read them. Arrays are host copies; upload them as they are.
struct PackedMatrix {
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  int k = 0;
  int n = 0;
  int group_size = 128;                // kPerChannel allowed
  DType scale_dtype = DType::kFloat16;
  std::vector<std::uint32_t> qweight;  // tiles, see packed_format.h; k*n/8 words for int4
  std::vector<std::uint16_t> scales;   // groups x n, fp16/bf16 bits, 8x8-transposed per 64 columns
};

// Shapes the packed format can hold: k a multiple of 16, n a multiple of 64, group size dividing k.
// Throws kInvalidArgument naming the rule that fails.
void check_packable(const QuantizedMatrix& w);

PackedMatrix pack(const QuantizedMatrix& w);
QuantizedMatrix unpack(const PackedMatrix& p);

}  // namespace marlin
