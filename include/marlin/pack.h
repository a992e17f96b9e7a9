// Packing plain quantized weights into the kernels' tiled layout (src/layout/packed_format.h
// defines it, with its diagram), and the exact inverse.
#pragma once

#include <cstdint>
#include <vector>

#include "marlin/quant.h"

namespace marlin {

// Weights in the kernels' tiled layout. Arrays are host copies. The GPU reads qweight and perm as
// they are, and device_scales() (the scales, with the zero points beside them) as `scales`;
// upload() does that.
struct PackedMatrix {
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  int k = 0;
  int n = 0;
  int group_size = 128;                // kPerChannel allowed
  DType scale_dtype = DType::kFloat16;
  std::vector<std::uint32_t> qweight;  // tiles, see packed_format.h; k*n*bits/32 words
  std::vector<std::uint16_t> scales;   // groups x n, fp16/bf16 bits, 8x8-transposed per 64 columns
  std::vector<std::uint8_t> zeros;     // groups x n, transposed like scales; kAsymmetricInt4 only
  std::vector<std::int32_t> perm;      // act-order: packed row i is original row perm[i]; or empty
};

// What the packed format can hold: every QuantScheme; k a multiple of 16, n a multiple of 64,
// group size dividing k; act-order (g_idx) when every group has exactly group_size rows (rows
// are then sorted by group, see packed_format.h). Throws marlin::Error naming the rule that fails.
void check_packable(const QuantizedMatrix& w);

// The packed copy of w. perm stays empty when the rows already come in groups (no g_idx, a g_idx
// equal to row / group_size, per-channel weights), so such weights cost nothing extra; else it is
// the stable sort of the rows by group, so equal inputs give equal packed bytes.
PackedMatrix pack(const QuantizedMatrix& w);

// Throws marlin::Error (message prefixed with `caller`) unless p is a consistent packed matrix:
// known scheme, shapes, the size of every array, perm a permutation. unpack() and upload() call it.
void check_packed(const PackedMatrix& p, const char* caller);
// The exact inverse: codes in the original row order and, when perm is not empty, g_idx rebuilt
// from it (g_idx[perm[i]] = i / group_size). Checks the size of every array, that perm holds each
// row once, and the zero points; throws kInvalidArgument naming the field and the rule.
QuantizedMatrix unpack(const PackedMatrix& p);

// The bytes the GEMM reads as its weights' `scales` (PackedWeightsView, marlin_gemm_args): for
// the symmetric schemes the scales as they are; for asymmetric INT4 each group row with the zero
// points beside the scales, per 256-column block, padded to whole blocks (src/layout/
// packed_format.h, 7.). Checks p first (check_packed).
std::vector<std::uint8_t> device_scales(const PackedMatrix& p);

}  // namespace marlin
