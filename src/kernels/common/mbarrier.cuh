// Shared-memory barriers (mbarrier, sm_80+; PTX ISA: "Parallel Synchronization and Communication
// Instructions: mbarrier"). An mbarrier counts arrivals; when the expected number has arrived, its
// current phase completes and the next one begins with the same count. Waiters name the phase by
// its parity, so a waiter must never fall two phases behind (the pipelines that use these are
// built so that it cannot).
#pragma once

#include <cstdint>

#include "kernels/common/cp_async.cuh"  // shared_address

namespace marlin::ptx {

// One thread initialises; the block synchronises before anyone else touches the barrier.
__device__ __forceinline__ void mbarrier_init(std::uint64_t* barrier, int expected_arrivals) {
  asm volatile("mbarrier.init.shared.b64 [%0], %1;\n" ::"r"(shared_address(barrier)),
               "r"(expected_arrivals)
               : "memory");
}

// One arrival (release semantics: this thread's earlier memory accesses happen before the phase
// completes, for every thread that waits on it).
__device__ __forceinline__ void mbarrier_arrive(std::uint64_t* barrier) {
  asm volatile(
      "{\n"
      ".reg .b64 state;\n"
      "mbarrier.arrive.shared.b64 state, [%0];\n"
      "}\n" ::"r"(shared_address(barrier))
      : "memory");
}

// Blocks until the phase of parity `parity` has completed (acquire semantics).
__device__ __forceinline__ void mbarrier_wait(std::uint64_t* barrier, std::uint32_t parity) {
  const std::uint32_t address = shared_address(barrier);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // try_wait suspends the thread for a while in hardware before it reports failure.
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "wait_%=:\n"
      "mbarrier.try_wait.parity.shared.b64 done, [%0], %1;\n"
      "@!done bra wait_%=;\n"
      "}\n" ::"r"(address),
      "r"(parity)
      : "memory");
#else
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "wait_%=:\n"
      "mbarrier.test_wait.parity.shared.b64 done, [%0], %1;\n"
      "@!done bra wait_%=;\n"
      "}\n" ::"r"(address),
      "r"(parity)
      : "memory");
#endif
}

}  // namespace marlin::ptx
