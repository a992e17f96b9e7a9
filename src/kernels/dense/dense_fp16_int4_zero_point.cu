// Dense kernels for FP16 activations x INT4 with zero points (AWQ) weights, every Tiling.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {

const DenseKernelEntry* dense_kernels_fp16_int4_zero_point() {
  return all_tilings<Format<Activation::kFp16, QuantScheme::kAsymmetricInt4>>();
}

}  // namespace marlin::kernels::dense
