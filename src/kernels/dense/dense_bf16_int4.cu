// Dense kernels for BF16 activations x symmetric INT4 (implicit zero 8) weights, every Tiling.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {

const DenseKernelEntry* dense_kernels_bf16_int4() {
  return all_tilings<Format<Activation::kBf16, QuantScheme::kSymmetricInt4>>();
}

}  // namespace marlin::kernels::dense
