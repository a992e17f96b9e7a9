// The large-batch kernel's instances: fp16 and bf16 activations x INT4 with and without zero
// points, and INT8. (One translation unit: each instance compiles in a few seconds.)

#include "core/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/tensor_map.h"
#include "kernels/large_batch/large_batch_kernel.cuh"
#include "kernels/large_batch/large_batch_launch.h"

namespace marlin::kernels::large_batch {
namespace {

static_assert(LargeBatchShape<kLargeBatchRows>::kTileN == kLargeBatchTileN &&
                  LargeBatchShape<kLargeBatchRows>::kTileK == kLargeBatchTileK,
              "large_batch_launch.h and the kernel's shape must agree");

template <class F, int kRows>
void launch(const dense::DenseParams& params, int splits, bool programmatic, cudaStream_t stream) {
  using S = LargeBatchShape<kRows>;
  const int m_tiles = (params.m + kRows - 1) / kRows;
  // (A's map is made per call: A is a different buffer each time. It travels as a kernel
  // parameter, so a captured graph keeps the one it was captured with.)
  const CUtensorMap a_map =
      k_major_swizzle128_map(params.a, params.m, params.k, S::kBoxRows);
  // The packed codes as k / 16 row bands of n x 16 codes, four bands a box (a stage).
  const CUtensorMap code_map =
      row_chunks_map(params.b, params.k / 16, static_cast<std::int64_t>(params.n) * 2 * F::kBits,
                     4, LargeBatchLayout<F, kRows>::kCodeChunks);
  launch_kernel(large_batch_kernel<F, kRows>,
                dim3(splits * m_tiles * (params.n / kLargeBatchTileN)), dim3(S::kThreads),
                LargeBatchLayout<F, kRows>::kSharedBytes, programmatic, stream, params, splits,
                a_map, code_map);
  CUDA_CHECK_LAUNCH("large_batch_kernel");
}

template <class F, int kRows>
bool fits(int device) {
  return resident_blocks_per_sm<&large_batch_kernel<F, kRows>, LargeBatchShape<kRows>::kThreads,
                                LargeBatchLayout<F, kRows>::kSharedBytes>(device) >= 1;
}

template <dense::Activation kActivation, QuantScheme kScheme>
const LargeBatchKernelEntry* entry(int rows) {
  using F = dense::Format<kActivation, kScheme>;
  static constexpr LargeBatchKernelEntry kEntries[] = {
      {&launch<F, kLargeBatchRows>, &fits<F, kLargeBatchRows>,
       LargeBatchLayout<F, kLargeBatchRows>::kSharedBytes, kLargeBatchRows},
      {&launch<F, kLargeBatchSmallRows>, &fits<F, kLargeBatchSmallRows>,
       LargeBatchLayout<F, kLargeBatchSmallRows>::kSharedBytes, kLargeBatchSmallRows}};
  return &kEntries[rows == kLargeBatchRows ? 0 : 1];
}

}  // namespace

const LargeBatchKernelEntry* find_large_batch_kernel(DType activation, QuantScheme scheme,
                                                     int rows) {
  using dense::Activation;
  const bool fp16 = activation == DType::kFloat16;
  if (!fp16 && activation != DType::kBFloat16) return nullptr;
  if (rows != kLargeBatchRows && rows != kLargeBatchSmallRows) return nullptr;
  switch (scheme) {
    case QuantScheme::kSymmetricInt4:
      return fp16 ? entry<Activation::kFp16, QuantScheme::kSymmetricInt4>(rows)
                  : entry<Activation::kBf16, QuantScheme::kSymmetricInt4>(rows);
    case QuantScheme::kAsymmetricInt4:
      return fp16 ? entry<Activation::kFp16, QuantScheme::kAsymmetricInt4>(rows)
                  : entry<Activation::kBf16, QuantScheme::kAsymmetricInt4>(rows);
    case QuantScheme::kSymmetricInt8:
      return fp16 ? entry<Activation::kFp16, QuantScheme::kSymmetricInt8>(rows)
                  : entry<Activation::kBf16, QuantScheme::kSymmetricInt8>(rows);
  }
  return nullptr;
}

}  // namespace marlin::kernels::large_batch
