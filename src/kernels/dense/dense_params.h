// Run-time arguments of the dense kernel, checked by the host before launch.
#pragma once

#include <cstdint>

namespace marlin::kernels::dense {

struct DenseParams {
  const void* a;               // [m, k] fp16, row-major
  const std::uint32_t* b;      // packed int4 tiles (layout/packed_format.h)
  const void* scales;          // [groups, n] fp16, transposed per 64 columns
  void* c;                     // [m, n] fp16, row-major
  int* arrivals;               // one counter per (m chunk, n tile) slice; zero before and after
  float* partials;             // fp32 partial sums: 2 slots per block of slot_rows x tile_n
  int slot_rows;               // min(m, tile rows)
  int m;
  int n;
  int k;
  int group_shift;             // log2(group size); 31 for per-channel (every row -> group 0)
  int m_chunks;                // ceil(m / tile rows)
  int tiles_per_block;         // length of each block's stripe, in k tiles
};

}  // namespace marlin::kernels::dense
