// Inter-block ordering through a lock word in global memory, for the serial reduction of a
// column slice shared by several blocks (MARLIN paper, section 3, "global reduction").
#pragma once

namespace marlin::ptx {

__device__ __forceinline__ int load_acquire_gpu(const int* address) {
  int value;
  asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(value) : "l"(address) : "memory");
  return value;
}

__device__ __forceinline__ void store_release_gpu(int* address, int value) {
  asm volatile("st.release.gpu.global.b32 [%0], %1;\n" ::"l"(address), "r"(value) : "memory");
}

// Blocks until *lock == expected. One thread waits, then the block is released by the barrier.
__device__ __forceinline__ void block_wait_for_turn(const int* lock, int expected) {
  if (threadIdx.x == 0) {
    while (load_acquire_gpu(lock) != expected) {
    }
  }
  __syncthreads();
}

// Publishes this block's global writes, then sets *lock = next (0 to hand the lock back clean).
__device__ __forceinline__ void block_pass_turn(int* lock, int next) {
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) store_release_gpu(lock, next);
}

}  // namespace marlin::ptx
