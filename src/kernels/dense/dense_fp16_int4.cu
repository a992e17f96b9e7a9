// Dense kernels for FP16 activations x symmetric INT4 (implicit zero 8) weights, every Tiling.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {

const DenseKernelEntry* dense_kernels_fp16_int4() {
  return all_tilings<Format<Activation::kFp16, QuantScheme::kSymmetricInt4>>();
}

}  // namespace marlin::kernels::dense
