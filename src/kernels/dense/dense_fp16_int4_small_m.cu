// Instantiations for batches of up to 32 rows (memory-bound): see dense_tiling.h.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {
template void launch_dense_fp16_int4<TilingM1>(const DenseParams&, int, cudaStream_t);
template void launch_dense_fp16_int4<TilingM2>(const DenseParams&, int, cudaStream_t);
}  // namespace marlin::kernels::dense
