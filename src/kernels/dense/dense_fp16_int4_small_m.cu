// Instantiations for batches of up to 32 rows (memory-bound): see dense_tiling.h.
#include "kernels/dense/dense_launch_impl.cuh"

namespace marlin::kernels::dense {
template void launch_dense_fp16_int4<TilingM1>(const DenseParams&, int, cudaStream_t);
template int resident_blocks_per_sm_dense_fp16_int4<TilingM1>();
template void launch_dense_fp16_int4<TilingM2>(const DenseParams&, int, cudaStream_t);
template int resident_blocks_per_sm_dense_fp16_int4<TilingM2>();
}  // namespace marlin::kernels::dense
