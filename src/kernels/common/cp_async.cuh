// cp.async (sm_80+): asynchronous global -> shared copies that bypass registers.
// PTX ISA: "Data Movement and Conversion Instructions: cp.async".
//
// No L2 cache-hint variant on purpose: createpolicy + cp.async.L2::cache_hint is miscompiled by
// CUDA 13's ptxas on sm_90 (illegal instruction at run time), see DEVELOPERS.md.
#pragma once

#include <cstdint>

namespace marlin::ptx {

__device__ __forceinline__ std::uint32_t shared_address(const void* pointer) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(pointer));
}

// 16 bytes global -> shared, cached in L2 only (.cg): streamed data never pollutes L1.
__device__ __forceinline__ void cp_async_16(void* shared_dst, const void* global_src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(shared_dst)),
               "l"(global_src));
}

// As cp_async_16, but copies nothing and zero-fills the 16 shared bytes when `valid` is false
// (src-size 0). Used for rows past the end of A, so that padding rows are zeros, not garbage.
__device__ __forceinline__ void cp_async_16_zfill(void* shared_dst, const void* global_src,
                                                  bool valid) {
  const int source_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared_dst)),
               "l"(global_src), "r"(source_bytes));
}

__device__ __forceinline__ void cp_async_commit_group() { asm volatile("cp.async.commit_group;\n" ::); }

// Wait until at most `kPending` committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait_group() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

}  // namespace marlin::ptx
