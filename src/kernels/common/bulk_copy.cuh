// Bulk asynchronous copies (sm_90, the SM's tensor memory accelerator; PTX ISA: "cp.async.bulk"
// and "cp.async.bulk.tensor"): one thread asks for a whole block of global memory to be copied
// into shared memory. The copy engine does the work, in the async proxy, and reports the bytes it
// wrote to an mbarrier ("complete_tx"); the barrier's phase completes when the bytes announced by
// mbarrier_expect_bytes have all arrived. Readers that wait on that barrier see the data, and so
// does wgmma (also the async proxy) without any proxy fence.
//
// What they offer over cp.async: one thread issues a whole stage (the others keep their issue
// slots), a tensor map reads rows past the matrix's end as zeros, and any warp can refill a ring
// slot, whatever the layout (the tensor map also swizzles).
//
// No L2 cache hints: CUDA 13's ptxas can miscompile createpolicy + cache-hinted copies on sm_90.
#pragma once

#include <cuda.h>  // CUtensorMap

#include <cstdint>

#include "kernels/common/cp_async.cuh"  // shared_address

namespace marlin::ptx {

// One arrival on `barrier` that also announces `bytes` more bytes of copies for its current phase.
__device__ __forceinline__ void mbarrier_expect_bytes(std::uint64_t* barrier, std::uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(
                   shared_address(barrier)),
               "r"(bytes)
               : "memory");
#else
  __trap();
#endif
}

// Copies `bytes` (a multiple of 16; both addresses 16-byte aligned) from global to shared memory.
__device__ __forceinline__ void bulk_copy_to_shared(void* destination, const void* source,
                                                    std::uint32_t bytes, std::uint64_t* barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::
          "r"(shared_address(destination)),
      "l"(source), "r"(bytes), "r"(shared_address(barrier))
      : "memory");
#else
  __trap();
#endif
}

// Copies the box of a 2-D tensor map (tensor_map.h) whose first element is (column x, row y) into
// shared memory, laid out and swizzled as the map says. Rows and columns outside the tensor are
// filled with zeros (and still count as bytes written).
__device__ __forceinline__ void tensor_box_to_shared(void* destination, const CUtensorMap& map,
                                                     int x, int y, std::uint64_t* barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(shared_address(destination)),
      "l"(reinterpret_cast<std::uint64_t>(&map)), "r"(x), "r"(y), "r"(shared_address(barrier))
      : "memory");
#else
  __trap();
#endif
}

// The same for a 3-D tensor map: the box whose first element is (x, y, z).
__device__ __forceinline__ void tensor_box_to_shared(void* destination, const CUtensorMap& map,
                                                     int x, int y, int z,
                                                     std::uint64_t* barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(shared_address(destination)),
      "l"(reinterpret_cast<std::uint64_t>(&map)), "r"(x), "r"(y), "r"(z),
      "r"(shared_address(barrier))
      : "memory");
#else
  __trap();
#endif
}

// Makes this thread's mbarrier.init visible to the copy engine before any copy reports to it.
__device__ __forceinline__ void fence_barrier_init() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

}  // namespace marlin::ptx
