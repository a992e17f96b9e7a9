// Instantiations for batches above 32 rows: see dense_tiling.h.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {
template void launch_dense_fp16_int4<TilingM3>(const DenseParams&, int, cudaStream_t);
template int resident_blocks_per_sm_dense_fp16_int4<TilingM3>();
template void launch_dense_fp16_int4<TilingM4>(const DenseParams&, int, cudaStream_t);
template int resident_blocks_per_sm_dense_fp16_int4<TilingM4>();
}  // namespace marlin::kernels::dense
