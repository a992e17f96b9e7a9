// Moving registers between warpgroups (sm_90a; PTX ISA: "setmaxnreg"). A block starts with the
// same register count in every thread (the launch bounds); a warpgroup that needs fewer hands
// some back, and one that needs more then takes them. Both are warpgroup-wide instructions: all
// 128 threads execute them together. ptxas compiles the code after each one to the new count.
#pragma once

#include "kernels/common/wgmma.cuh"  // MARLIN_WGMMA_AVAILABLE

namespace marlin::ptx {

template <int kRegisters>
__device__ __forceinline__ void warpgroup_release_registers() {
  static_assert(kRegisters % 8 == 0 && kRegisters >= 24 && kRegisters <= 256);
#if MARLIN_WGMMA_AVAILABLE
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}

// Waits until the registers are free (released by another warpgroup of the block).
template <int kRegisters>
__device__ __forceinline__ void warpgroup_claim_registers() {
  static_assert(kRegisters % 8 == 0 && kRegisters >= 24 && kRegisters <= 256);
#if MARLIN_WGMMA_AVAILABLE
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}

}  // namespace marlin::ptx
