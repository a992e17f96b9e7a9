// Dense kernels for BF16 activations x symmetric INT8 (implicit zero 128) weights, every Tiling.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {

const DenseKernelEntry* dense_kernels_bf16_int8() {
  return all_tilings<Format<Activation::kBf16, QuantScheme::kSymmetricInt8>>();
}

}  // namespace marlin::kernels::dense
