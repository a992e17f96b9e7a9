// The large-batch kernel's instances: fp16 and bf16 activations x INT4 with and without zero
// points, and INT8. (One translation unit: each instance compiles in a few seconds.)
#include <atomic>

#include "core/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/tensor_map.h"
#include "kernels/large_batch/large_batch_kernel.cuh"
#include "kernels/large_batch/large_batch_launch.h"

namespace marlin::kernels::large_batch {
namespace {

static_assert(LargeBatchShape::kRows == kLargeBatchRows &&
                  LargeBatchShape::kTileN == kLargeBatchTileN &&
                  LargeBatchShape::kTileK == kLargeBatchTileK,
              "large_batch_launch.h and the kernel's shape must agree");

template <class F>
void launch(const dense::DenseParams& params, int splits, bool programmatic, cudaStream_t stream) {
  const int m_tiles = (params.m + kLargeBatchRows - 1) / kLargeBatchRows;
  // (A's map is made per call: A is a different buffer each time. It travels as a kernel
  // parameter, so a captured graph keeps the one it was captured with.)
  const CUtensorMap a_map =
      k_major_swizzle128_map(params.a, params.m, params.k, LargeBatchShape::kRows / 2);
  launch_kernel(large_batch_kernel<F>, dim3(splits * m_tiles * (params.n / kLargeBatchTileN)),
                dim3(LargeBatchShape::kThreads), LargeBatchLayout<F>::kSharedBytes, programmatic,
                stream, params, splits, a_map);
  CUDA_CHECK_LAUNCH("large_batch_kernel");
}

template <class F>
bool fits(int device) {
  constexpr int kShared = LargeBatchLayout<F>::kSharedBytes;
  constexpr int kMaxDevices = 64;
  static std::atomic<int> known[kMaxDevices] = {};  // 0: not queried yet, else blocks + 1
  if (device < kMaxDevices) {
    const int cached = known[device].load(std::memory_order_acquire);
    if (cached != 0) return cached > 1;
  }
  CUDA_CHECK(cudaFuncSetAttribute(large_batch_kernel<F>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
  int blocks = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, large_batch_kernel<F>,
                                                           LargeBatchShape::kThreads, kShared));
  if (device < kMaxDevices) known[device].store(blocks + 1, std::memory_order_release);
  return blocks >= 1;
}

template <dense::Activation kActivation, QuantScheme kScheme>
const LargeBatchKernelEntry* entry() {
  using F = dense::Format<kActivation, kScheme>;
  static constexpr LargeBatchKernelEntry kEntry{&launch<F>, &fits<F>,
                                                LargeBatchLayout<F>::kSharedBytes};
  return &kEntry;
}

}  // namespace

const LargeBatchKernelEntry* find_large_batch_kernel(DType activation, QuantScheme scheme) {
  using dense::Activation;
  const bool fp16 = activation == DType::kFloat16;
  if (!fp16 && activation != DType::kBFloat16) return nullptr;
  switch (scheme) {
    case QuantScheme::kSymmetricInt4:
      return fp16 ? entry<Activation::kFp16, QuantScheme::kSymmetricInt4>()
                  : entry<Activation::kBf16, QuantScheme::kSymmetricInt4>();
    case QuantScheme::kAsymmetricInt4:
      return fp16 ? entry<Activation::kFp16, QuantScheme::kAsymmetricInt4>()
                  : entry<Activation::kBf16, QuantScheme::kAsymmetricInt4>();
    case QuantScheme::kSymmetricInt8:
      return fp16 ? entry<Activation::kFp16, QuantScheme::kSymmetricInt8>()
                  : entry<Activation::kBf16, QuantScheme::kSymmetricInt8>();
  }
  return nullptr;
}

}  // namespace marlin::kernels::large_batch
