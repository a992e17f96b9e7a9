#include "gemm/dense_dispatch.h"

#include <algorithm>

#include "kernels/dense/dense_launch.h"
#include "kernels/dense/dense_tiling.h"

namespace marlin::gemm_detail {
namespace {

using namespace kernels::dense;

template <class T>
constexpr DenseConfig config_of(const char* name) {
  return {name,          T::kRows,         T::kTileK,
          T::kTileN,     T::kSharedBytes,  T::kBlocksPerSM,
          &launch_dense_fp16_int4<T>, &resident_blocks_per_sm_dense_fp16_int4<T>};
}

// Rows: 16-row A blocks per tile. m <= 32 is memory-bound (weights dominate): 128x128 tiles,
// deep pipelines, two blocks per SM where registers allow. Larger m: 64x256 tiles; m > 64 runs as several 64-row chunks in one launch.
// n not a multiple of 256 falls back to the 32-row 128x128 configuration in 32-row chunks.
constexpr DenseConfig kConfigs[] = {
    config_of<TilingM1>("m16_k128_n128_s6_b2"),
    config_of<TilingM2>("m32_k128_n128_s6_b1"),
    config_of<TilingM3>("m48_k64_n256_s4"),
    config_of<TilingM4>("m64_k64_n256_s4"),
};

}  // namespace

const DenseConfig& choose_dense_config(int m, int n) {
  if (m <= 16) return kConfigs[0];
  if (m <= 32 || n % 256 != 0) return kConfigs[1];
  if (m <= 48) return kConfigs[2];
  return kConfigs[3];
}

DenseWorkspaceLayout dense_workspace_layout(int max_m, int n, int sm_count) {
  std::size_t slices = 0;
  std::size_t partial_floats = 0;
  for (const DenseConfig& config : kConfigs) {
    const std::size_t chunks = static_cast<std::size_t>((max_m + config.rows - 1) / config.rows);
    slices = std::max(slices, chunks * static_cast<std::size_t>(n / config.tile_n));
    const std::size_t blocks = static_cast<std::size_t>(sm_count) * config.blocks_per_sm;
    const std::size_t slot_rows = static_cast<std::size_t>(std::min(max_m, config.rows));
    partial_floats = std::max(partial_floats, 2 * blocks * slot_rows * config.tile_n);
  }
  const std::size_t counters_bytes = (slices * sizeof(int) + 255) / 256 * 256;
  return {counters_bytes, partial_floats * sizeof(float)};
}

}  // namespace marlin::gemm_detail
