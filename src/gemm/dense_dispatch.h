// The table of dense-kernel configurations and the rule that picks one per problem.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "kernels/dense/dense_launch.h"
#include "kernels/large_batch/large_batch_launch.h"
#include "marlin/dtype.h"
#include "marlin/quant.h"

namespace marlin::gemm_detail {

struct DenseConfig {
  const char* name;
  int tiling;         // index into the kernel entries of a format (dense_launch.h)
  int rows;           // rows of A per tile (16 x m blocks)
  int tile_k;
  int tile_n;
  int blocks_per_sm;  // what the configuration is built for; the device may allow fewer
  int max_m;          // the most rows of A it takes (the swapped ones: 8 or 16); 0: any
  // Fewest tiles a block's stripe gets when the problem is too small to give every resident
  // block one (see plan_dense_grid).
  int min_tiles_per_block;
};

// Whether a device has much memory bandwidth for its issue rate: at least this much peak
// bandwidth per SM (H200: 4.8 TB/s over 132 SMs, 36 GB/s; H100 SXM: 3.35 TB/s, 25 GB/s). There
// the m = 9..16 rule takes the loop with fewer instructions per weight tile (choose_dense_config).
constexpr double kBandwidthRichBytesPerSm = 30e9;
bool bandwidth_rich(double peak_bytes_per_second, int sm_count);

// The configuration for m rows of A and a k x n weight (n a multiple of 64; the last n tile may
// be partial). `wgmma`: the device runs sm_90a code (compute capability 9.0); `int8`: the weights
// are INT8; `rich`: bandwidth_rich of the device.
const DenseConfig& choose_dense_config(int m, int n, int k, bool wgmma, bool int8 = false,
                                       bool rich = false);

// Tuning and benchmarks: the configuration `spec` names, "<name>" or "<name>:<floor>" with one of
// the configurations' names and a floor (1 to 4096) that replaces its min_tiles_per_block.
// Throws kInvalidArgument, with the valid names, where `spec` names none.
DenseConfig parse_dense_config(const std::string& spec);

// The names parse_dense_config takes, in table order.
std::vector<std::string> dense_config_names();

// Throws kInvalidArgument where `config` cannot run m rows: the wgmma configurations need sm_90a
// code, the swapped ones cover 8 or 16 rows.
void check_dense_config_runs(const DenseConfig& config, int m, bool wgmma);

// The configuration a GEMM runs: the one the environment variable MARLIN_DENSE_CONFIG names (a
// spec as above, read once per process; it forces every dense GEMM onto that configuration, for
// sweeps such as scripts/sweep-dense-configs.sh), checked to run the problem; without it,
// choose_dense_config's.
const DenseConfig& dense_config_for(int m, int n, int k, bool wgmma, bool int8, bool rich);

// Into how many shares of k the large-batch kernel splits each of `tiles` output tiles, for k
// `k_steps` x 64, on sm_count SMs: the blocks' time is about waves(tiles x s) / s tiles' worth,
// and the smallest wins (fewer shares on ties), with at most kLargeBatchMaxSplits shares of at
// least kLargeBatchMinSplitSteps steps, all in one wave. Why these limits (H200, 2026-11-27,
// docs/dense-kernel-notes.md v14): publishing and summing the shares costs ~8 us + ~2.3 us a
// share, so 8 shares lost to the dense kernel wherever 4 won, and shares in a second wave lost
// to k whole (7B 4096 x 22016 at m = 128: 3 shares in two waves 58.6 us, k whole 49.1).
constexpr int kLargeBatchMaxSplits = 4;
constexpr int kLargeBatchMinSplitSteps = 32;
int large_batch_splits(long long tiles, int k_steps, int sm_count);

// The large-batch kernel's plan for a GEMM: its entry (null: the dense kernel takes the GEMM) and
// the shares of k.
struct LargeBatchPlan {
  const kernels::large_batch::LargeBatchKernelEntry* kernel = nullptr;
  int splits = 1;
};

// Whether the large-batch kernel (kernels/large_batch: warp-specialized, a loader thread and two
// warpgroups that dequantize into wgmma's register operand) takes the GEMM instead of the dense
// kernel. It exists for sm_90a, every format of the dense kernel and n a multiple of 256, and
// computes 64 x 256 tiles up to m = 64 and 128 x 256 tiles above, k split as large_batch_splits
// says, one block an SM at a time. It is chosen for m >= kLargeBatchMinRows where its blocks fill
// their waves of SMs to at least 60%. `forced`: the environment's choice (large_batch_override),
// nullopt for none.
constexpr int kLargeBatchMinRows = 40;
LargeBatchPlan choose_large_batch(int m, int n, int k, DType activation, QuantScheme scheme,
                                  bool wgmma, int sm_count, std::optional<bool> forced);

// MARLIN_LARGE_BATCH (read once per process): "on" takes the large-batch kernel wherever it can
// run (any m, for sweeps), "off" never; unset or empty: no override, unless MARLIN_DENSE_CONFIG
// forces a dense configuration, which then holds for every GEMM ("off"). Anything else throws
// kInvalidArgument.
std::optional<bool> large_batch_override();

// The persistent grid of one launch: `grid` blocks, each taking a stripe of `tiles_per_block`
// consecutive (slice, k-step) tiles (the last stripe may be shorter).
struct DenseGrid {
  int tiles_per_block;
  int grid;
};

// As many blocks as are resident at once (`resident` per SM), each with an equal stripe, but no
// stripe shorter than config.min_tiles_per_block: on a small layer, more blocks only means more
// blocks sharing each slice, and a longer reduction at the end (dense_kernel.cuh).
DenseGrid plan_dense_grid(long long total_tiles, int sm_count, int resident,
                          const DenseConfig& config);

// The compiled kernels of one (activation, weight scheme) pair; throws kUnsupported for others.
const kernels::dense::DenseKernelEntry& dense_kernel(DType activation, QuantScheme scheme,
                                                     const DenseConfig& config);

// Workspace layout: one arrival counter per slice, fp32 partial-sum slots (two per block), then
// room for A with permuted columns (act-order weights only).
struct DenseWorkspaceLayout {
  std::size_t counters_bytes;  // rounded up to 256 bytes
  std::size_t partials_bytes;  // rounded up to 256 bytes
  std::size_t permuted_a_bytes;
  std::size_t total() const { return counters_bytes + partials_bytes + permuted_a_bytes; }
};

// What any configuration needs for problems up to (max_m, n) on a device with sm_count SMs, and
// act-order weights with k up to max_act_order_k (0 for none).
DenseWorkspaceLayout dense_workspace_layout(int max_m, int n, int sm_count,
                                            int max_act_order_k = 0);

}  // namespace marlin::gemm_detail
