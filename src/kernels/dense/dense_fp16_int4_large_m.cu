// Instantiations for batches above 32 rows: see dense_tiling.h.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {
template void launch_dense_fp16_int4<TilingM3>(const DenseParams&, int, cudaStream_t);
template void launch_dense_fp16_int4<TilingM4>(const DenseParams&, int, cudaStream_t);
}  // namespace marlin::kernels::dense
