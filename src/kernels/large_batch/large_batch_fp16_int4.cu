// The large-batch kernel for FP16 activations x symmetric INT4 weights.
#include <atomic>

#include "core/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/large_batch/large_batch_kernel.cuh"
#include "kernels/large_batch/large_batch_launch.h"

namespace marlin::kernels::large_batch {
namespace {

using Fp16Int4 = dense::Format<dense::Activation::kFp16, QuantScheme::kSymmetricInt4>;
constexpr int kShared = LargeBatchLayout<Fp16Int4>::kSharedBytes;

static_assert(LargeBatchShape::kRows == kLargeBatchRows &&
                  LargeBatchShape::kTileN == kLargeBatchTileN &&
                  LargeBatchShape::kTileK == kLargeBatchTileK,
              "large_batch_launch.h and the kernel's shape must agree");

void launch(const dense::DenseParams& params, bool programmatic, cudaStream_t stream) {
  const int m_tiles = (params.m + kLargeBatchRows - 1) / kLargeBatchRows;
  launch_kernel(large_batch_kernel<Fp16Int4>, dim3(m_tiles * (params.n / kLargeBatchTileN)),
                dim3(LargeBatchShape::kThreads), kShared, programmatic, stream, params);
  CUDA_CHECK_LAUNCH("large_batch_kernel");
}

bool fits(int device) {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> known[kMaxDevices] = {};  // 0: not queried yet, else blocks + 1
  if (device < kMaxDevices) {
    const int cached = known[device].load(std::memory_order_acquire);
    if (cached != 0) return cached > 1;
  }
  CUDA_CHECK(cudaFuncSetAttribute(large_batch_kernel<Fp16Int4>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
  int blocks = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &blocks, large_batch_kernel<Fp16Int4>, LargeBatchShape::kThreads, kShared));
  if (device < kMaxDevices) known[device].store(blocks + 1, std::memory_order_release);
  return blocks >= 1;
}

}  // namespace

const LargeBatchKernelEntry& large_batch_fp16_int4() {
  static constexpr LargeBatchKernelEntry kEntry{&launch, &fits, kShared};
  return kEntry;
}

}  // namespace marlin::kernels::large_batch
