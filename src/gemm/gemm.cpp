// The public GEMM entry: argument checks, workspace, choice of configuration, launch.
#include "marlin/gemm.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/cuda_check.h"
#include "gemm/dense_dispatch.h"
#include "kernels/act_order/gather_columns.h"
#include "kernels/large_batch/large_batch_launch.h"
#include "marlin/device.h"
#include "marlin/gemm_shapes.h"
#include "marlin/status.h"

namespace marlin {
namespace {

bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

std::string str(long long value) { return std::to_string(value); }

int log2_of_power_of_two(int value) {
  int shift = 0;
  while ((1 << shift) < value) ++shift;
  return shift;
}

bool aligned4(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 4 == 0; }

// What a launch needs to know about the device. Attributes never change for a device, so they
// are queried once per device, not on every call (gemm() is on the per-token path).
struct LaunchFacts {
  int sm_count = 0;
  int shared_limit = 0;  // opt-in shared memory per block, bytes
  int cc_major = 0;
  int cc_minor = 0;
  bool bandwidth_rich = false;  // gemm_detail::bandwidth_rich of its peak memory bandwidth
};

const LaunchFacts& launch_facts(int device) {
  constexpr int kMaxDevices = 64;
  static std::once_flag queried[kMaxDevices];
  static LaunchFacts facts[kMaxDevices];
  require(device >= 0 && device < kMaxDevices, "gemm: device " + std::to_string(device) +
                                                   " is beyond the " +
                                                   std::to_string(kMaxDevices) + " supported");
  std::call_once(queried[device], [device] {
    LaunchFacts& f = facts[device];
    CUDA_CHECK(cudaDeviceGetAttribute(&f.sm_count, cudaDevAttrMultiProcessorCount, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&f.shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                      device));
    CUDA_CHECK(cudaDeviceGetAttribute(&f.cc_major, cudaDevAttrComputeCapabilityMajor, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&f.cc_minor, cudaDevAttrComputeCapabilityMinor, device));
    f.bandwidth_rich = gemm_detail::bandwidth_rich(
        query_device(device).peak_memory_bytes_per_second, f.sm_count);
  });
  return facts[device];
}

void check_args(const GemmArgs& args) {
  const PackedWeightsView& w = args.weights;
  require(args.activation_dtype == DType::kFloat16 || args.activation_dtype == DType::kBFloat16,
          "activation dtype " + std::string(dtype_name(args.activation_dtype)) +
              " is not supported; expected fp16 or bf16");
  require(w.scale_dtype == args.activation_dtype,
          "weights.scale_dtype (" + std::string(dtype_name(w.scale_dtype)) +
              ") must equal the activation dtype (" + std::string(dtype_name(args.activation_dtype)) + ")");
  require(args.m >= 1, "m=" + str(args.m) + " must be at least 1");
  const std::string shape_violation = gemm_shape_violation(w.k, w.n, w.group_size);
  require(shape_violation.empty(), shape_violation);
  require(args.a && args.c && w.qweight && w.scales,
          "A, C, weights.qweight and weights.scales must all be device pointers (one is null)");
  require(aligned16(args.a) && aligned16(args.c) && aligned16(w.qweight) && aligned16(w.scales),
          "A, C, weights.qweight and weights.scales must be 16-byte aligned");
  if (w.perm != nullptr) {
    require(aligned16(w.perm), "weights.perm (act-order) must be 16-byte aligned");
    require(w.group_size != kPerChannel,
            "act-order (weights.perm) needs group scales; per-channel weights have no groups to "
            "reorder");
  }
  require(args.bias == nullptr || aligned4(args.bias), "bias must be 4-byte aligned");
  require(args.m <= (1 << 30), "m=" + str(args.m) + " must be at most 2^30");
  const WorkspaceView& ws = args.workspace;
  require(ws.data != nullptr, "workspace is null; allocate one with marlin::Workspace");
  require(aligned16(ws.data), "workspace must be 16-byte aligned");
  require(args.m <= ws.max_m, "m=" + str(args.m) + " exceeds the workspace's max_m=" +
                                  str(ws.max_m) + " (a workspace serves m <= max_m)");
  require(w.n <= ws.n,
          "n=" + str(w.n) + " exceeds the workspace's n=" + str(ws.n) + " (it serves n <= n)");
  if (w.perm != nullptr) {
    require(w.k <= ws.max_act_order_k,
            "act-order weights with k=" + str(w.k) + " need a workspace with max_act_order_k >= k; "
            "it has " + str(ws.max_act_order_k));
  }
}

}  // namespace

std::size_t gemm_workspace_bytes(int max_m, int n, int sm_count, int max_act_order_k) {
  require(max_m >= 1 && n >= 64 && sm_count >= 1 && max_act_order_k >= 0,
          "gemm_workspace_bytes: max_m >= 1, n >= 64, sm_count >= 1 and max_act_order_k >= 0 "
          "required");
  return gemm_detail::dense_workspace_layout(max_m, n, sm_count, max_act_order_k).total();
}

std::size_t gemm_workspace_bytes(int max_m, int n, int sm_count) {
  return gemm_workspace_bytes(max_m, n, sm_count, 0);
}

std::size_t gemm_workspace_bytes(int max_m, int n) {
  return gemm_workspace_bytes(max_m, n, current_sm_count(), 0);
}

void gemm(const GemmArgs& args, cudaStream_t stream) {
  check_args(args);
  const PackedWeightsView& w = args.weights;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  const LaunchFacts& facts = launch_facts(device);
  // sm_90a code (wgmma) runs on compute capability 9.0 only.
  const bool wgmma = facts.cc_major == 9 && facts.cc_minor == 0;
  const gemm_detail::DenseConfig& config =
      gemm_detail::dense_config_for(args.m, w.n, w.k, wgmma,
                                    w.scheme == QuantScheme::kSymmetricInt8, facts.bandwidth_rich);
  const kernels::dense::DenseKernelEntry& kernel =
      gemm_detail::dense_kernel(args.activation_dtype, w.scheme, config);
  const int sm_count = facts.sm_count;
  const int shared_limit = facts.shared_limit;
  // The layout follows the workspace's capacities (WorkspaceView), never the call: counters at
  // the front, fp32 partial slots, then room for A with permuted columns.
  const WorkspaceView& ws = args.workspace;
  const gemm_detail::DenseWorkspaceLayout workspace =
      gemm_detail::dense_workspace_layout(ws.max_m, ws.n, sm_count, ws.max_act_order_k);
  require(ws.bytes >= workspace.total(),
          "workspace has " + str(static_cast<long long>(ws.bytes)) + " bytes; max_m=" +
              str(ws.max_m) + ", n=" + str(ws.n) + ", max_act_order_k=" +
              str(ws.max_act_order_k) + " need " + str(static_cast<long long>(workspace.total())) +
              " on this device (gemm_workspace_bytes)");
  if (shared_limit < kernel.shared_bytes) {
    throw Error(ErrorCode::kUnsupported,
                std::string("kernel configuration ") + config.name + " needs " +
                    str(kernel.shared_bytes) + " bytes of shared memory; the device allows " +
                    str(shared_limit));
  }

  // A programmatic launch lets the GEMM stream its weights while the kernel before it finishes
  // (dense_kernel.cuh's prologue). Safe when the caller vouches for the weights, and always
  // right after our own gather, which writes only the workspace. The gather itself is launched
  // programmatically only with static weights: then whatever ran before it may still be running
  // while the GEMM after it reads weights.
  const bool overlap_allowed = facts.cc_major >= 9;
  const bool programmatic = overlap_allowed && (args.static_weights || w.perm != nullptr);

  char* const base = static_cast<char*>(ws.data);
  char* const partials = base + workspace.counters_bytes;
  kernels::dense::DenseParams params{};
  params.a = args.a;
  if (w.perm != nullptr) {
    // Act-order: A's columns in the packed row order, into the workspace (gather_columns.cu
    // says why a separate pass).
    auto* permuted = reinterpret_cast<std::uint16_t*>(partials + workspace.partials_bytes);
    kernels::act_order::gather_columns(static_cast<const std::uint16_t*>(args.a), w.perm,
                                       permuted, args.m, w.k,
                                       overlap_allowed && args.static_weights, stream);
    params.a = permuted;
  }
  params.b = w.qweight;
  params.scales = w.scales;
  params.bias = args.bias;
  params.c = args.c;
  params.accumulate = args.accumulate;
  params.m = args.m;
  params.n = w.n;
  params.k = w.k;
  params.group_shift = w.group_size == kPerChannel ? 31 : log2_of_power_of_two(w.group_size);
  params.arrivals = reinterpret_cast<int*>(base);
  params.partials = reinterpret_cast<float*>(partials);
  const gemm_detail::LargeBatchPlan large =
      gemm_detail::choose_large_batch(args.m, w.n, w.k, args.activation_dtype, w.scheme, wgmma,
                                      sm_count, gemm_detail::large_batch_override());
  if (large.kernel != nullptr && shared_limit >= large.kernel->shared_bytes &&
      large.kernel->fits(device)) {
    large.kernel->launch(params, large.splits, programmatic, stream);
    return;
  }
  params.slot_rows = std::min(args.m, config.rows);
  params.m_chunks = (args.m + config.rows - 1) / config.rows;
  params.n_tiles = (w.n + config.tile_n - 1) / config.tile_n;
  const long long total_tiles =
      static_cast<long long>(params.m_chunks) * params.n_tiles * (w.k / config.tile_k);
  require(total_tiles < (1LL << 31), "problem too large: more than 2^31 tiles");
  // A persistent grid of at most the resident blocks (the workspace holds two partial-sum slots
  // for each of them).
  const int resident = std::min(config.blocks_per_sm, kernel.resident_blocks_per_sm(device));
  if (resident < 1) {
    throw Error(ErrorCode::kUnsupported,
                std::string("kernel configuration ") + config.name + " does not fit on this device");
  }
  const gemm_detail::DenseGrid grid =
      gemm_detail::plan_dense_grid(total_tiles, sm_count, resident, config);
  params.tiles_per_block = grid.tiles_per_block;
  kernel.launch(params, grid.grid, programmatic, stream);
}

}  // namespace marlin
