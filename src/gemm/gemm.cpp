// The public GEMM entry: argument checks, workspace, choice of configuration, launch.
#include "marlin/gemm.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/cuda_check.h"
#include "gemm/dense_dispatch.h"
#include "marlin/status.h"

namespace marlin {
namespace {

bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

std::string str(long long value) { return std::to_string(value); }

int current_sm_count() {
  int device = 0;
  int sm_count = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  return sm_count;
}

int log2_of_power_of_two(int value) {
  int shift = 0;
  while ((1 << shift) < value) ++shift;
  return shift;
}

void check_args(const GemmArgs& args) {
  const PackedWeightsView& w = args.weights;
  require(args.activation_dtype == DType::kFloat16,
          "activation dtype " + std::string(dtype_name(args.activation_dtype)) +
              " is not supported yet; expected fp16");
  if (w.scheme != QuantScheme::kSymmetricInt4) {
    throw Error(ErrorCode::kUnsupported,
                "only symmetric INT4 weights (implicit zero 8) are supported by the GEMM so far");
  }
  require(w.scale_dtype == DType::kFloat16, "weights.scale_dtype must be fp16 for fp16 activations");
  require(args.m >= 1, "m=" + str(args.m) + " must be at least 1");
  require(w.k >= 128 && w.k % 128 == 0, "k=" + str(w.k) + " must be a positive multiple of 128");
  require(w.n >= 128 && w.n % 128 == 0, "n=" + str(w.n) + " must be a positive multiple of 128");
  const int group = w.group_size == kPerChannel ? w.k : w.group_size;
  require(w.group_size == kPerChannel || w.group_size == 32 || w.group_size == 64 ||
              w.group_size == 128,
          "group_size=" + str(w.group_size) + " must be 32, 64, 128 or -1 (per-channel)");
  require(w.k % group == 0,
          "k=" + str(w.k) + " must be a multiple of group_size=" + str(w.group_size));
  require(args.a && args.c && w.qweight && w.scales,
          "A, C, weights.qweight and weights.scales must all be device pointers (one is null)");
  require(aligned16(args.a) && aligned16(args.c) && aligned16(w.qweight) && aligned16(w.scales),
          "A, C, weights.qweight and weights.scales must be 16-byte aligned");
  require(args.workspace != nullptr, "workspace is null; allocate one with marlin::Workspace");
  require(aligned16(args.workspace), "workspace must be 16-byte aligned");
}

}  // namespace

std::size_t gemm_workspace_bytes(int max_m, int n, int sm_count) {
  require(max_m >= 1 && n >= 128 && sm_count >= 1,
          "gemm_workspace_bytes: max_m >= 1, n >= 128 and sm_count >= 1 required");
  return gemm_detail::dense_workspace_layout(max_m, n, sm_count).total();
}

std::size_t gemm_workspace_bytes(int max_m, int n) {
  return gemm_workspace_bytes(max_m, n, current_sm_count());
}

void gemm(const GemmArgs& args, cudaStream_t stream) {
  check_args(args);
  const PackedWeightsView& w = args.weights;
  const gemm_detail::DenseConfig& config = gemm_detail::choose_dense_config(args.m, w.n);

  int device = 0;
  int sm_count = 0;
  int shared_limit = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const gemm_detail::DenseWorkspaceLayout workspace =
      gemm_detail::dense_workspace_layout(args.m, w.n, sm_count);
  require(args.workspace_bytes >= workspace.total(),
          "workspace has " + str(static_cast<long long>(args.workspace_bytes)) + " bytes; m=" +
              str(args.m) + ", n=" + str(w.n) + " need " +
              str(static_cast<long long>(workspace.total())) + " on this device");
  if (shared_limit < config.shared_bytes) {
    throw Error(ErrorCode::kUnsupported,
                std::string("kernel configuration ") + config.name + " needs " +
                    str(config.shared_bytes) + " bytes of shared memory; the device allows " +
                    str(shared_limit));
  }

  kernels::dense::DenseParams params{};
  params.a = args.a;
  params.b = w.qweight;
  params.scales = w.scales;
  params.c = args.c;
  params.arrivals = static_cast<int*>(args.workspace);
  params.partials = reinterpret_cast<float*>(static_cast<char*>(args.workspace) +
                                             workspace.counters_bytes);
  params.slot_rows = std::min(args.m, config.rows);
  params.m = args.m;
  params.n = w.n;
  params.k = w.k;
  params.group_shift = w.group_size == kPerChannel ? 31 : log2_of_power_of_two(w.group_size);
  params.m_chunks = (args.m + config.rows - 1) / config.rows;
  const long long total_tiles =
      static_cast<long long>(params.m_chunks) * (w.n / config.tile_n) * (w.k / config.tile_k);
  require(total_tiles < (1LL << 31), "problem too large: more than 2^31 tiles");
  // A persistent grid: as many blocks as are resident at once, each taking an equal stripe of the
  // tiles (the workspace holds two partial-sum slots for each of them).
  const int resident = std::min(config.blocks_per_sm, config.resident_blocks_per_sm());
  if (resident < 1) {
    throw Error(ErrorCode::kUnsupported,
                std::string("kernel configuration ") + config.name + " does not fit on this device");
  }
  const int grid_target =
      static_cast<int>(std::min<long long>(static_cast<long long>(sm_count) * resident, total_tiles));
  params.tiles_per_block = static_cast<int>((total_tiles + grid_target - 1) / grid_target);
  const int grid = static_cast<int>((total_tiles + params.tiles_per_block - 1) /
                                    params.tiles_per_block);
  config.launch(params, grid, stream);
}

}  // namespace marlin
