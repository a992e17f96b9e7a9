// Run-time arguments of the dense kernel, checked by the host before launch.
#pragma once

#include <cstdint>

namespace marlin::kernels::dense {

struct DenseParams {
  const void* a;               // [m, k] fp16/bf16, row-major (act-order: columns already permuted)
  const std::uint32_t* b;      // packed tiles (layout/packed_format.h)
  const void* scales;          // device scale rows (layout/packed_format.h, 7.): with zero points
  const void* bias;            // [n] or null
  void* c;                     // [m, n] same type as A, row-major
  int* arrivals;               // one counter per (m chunk, n tile) slice; zero before and after
  float* partials;             // fp32 partial sums: 2 slots per block of slot_rows x tile_n
  int slot_rows;               // min(m, tile rows)
  int m;
  int n;                       // a multiple of 64; the last n tile may be partly outside
  int k;
  int group_shift;             // log2(group size); 31 for per-channel (every row -> group 0)
  int m_chunks;                // ceil(m / tile rows)
  int n_tiles;                 // ceil(n / tile n)
  int tiles_per_block;         // length of each block's stripe, in k tiles
  bool accumulate;             // C += result instead of C = result
};

}  // namespace marlin::kernels::dense
