// Hopper warpgroup MMA (sm_90a only; PTX ISA: "Asynchronous Warpgroup Level Matrix Multiply-
// Accumulate"). Four consecutive warps (a warpgroup, first warp index divisible by 4) issue
// D[64 x N] += A[64 x 16] * B[16 x N] together, asynchronously (N = 32, 64 or 128 here):
//
//   A  from registers: warp w of the warpgroup holds rows 16w .. 16w + 15 in the register layout
//      of mma.m16n8k16's A operand (mma.cuh)
//   B  from shared memory, described by a 64-bit matrix descriptor (below)
//   D  fp32 in registers: warp w holds rows 16w .. 16w + 15; for each 8-column group j the four
//      values of an m16n8 C fragment (mma.cuh), j = 0 .. N / 8 - 1
//
// Everything compiles to a trap outside sm_90a: callers select these paths only on devices of
// compute capability 9.0 (an sm_90a cubin runs nowhere else).
#pragma once

#include <cstdint>

#include "kernels/common/mma.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MARLIN_WGMMA_AVAILABLE 1
#else
#define MARLIN_WGMMA_AVAILABLE 0
#endif

namespace marlin::ptx {

// A K-major operand tile in shared memory with the 128-byte swizzle: rows of 64 16-bit values
// (128 bytes), 16-byte chunk c of row r stored at chunk c ^ (r % 8), 8-row atoms of 1024 bytes
// one after another, the tile 1024-byte aligned. Bits: start address >> 4 (0-13), leading byte
// offset >> 4 (16-29; unused for swizzled K-major tiles, 1 by convention), stride byte offset >> 4
// (32-45: 1024 bytes between 8-row atoms), swizzle mode (62-63: 1 = 128 bytes). The k16 step s
// of the 64-wide row starts 32 s bytes further: only the start address moves.
__device__ __forceinline__ std::uint64_t k_major_swizzle128_descriptor(std::uint32_t shared_addr) {
  const std::uint64_t start = (shared_addr & 0x3FFFFu) >> 4;
  constexpr std::uint64_t kLeading = 1;
  constexpr std::uint64_t kStride = 1024 >> 4;
  constexpr std::uint64_t kSwizzle128 = 1;
  return start | (kLeading << 16) | (kStride << 32) | (kSwizzle128 << 62);
}

// Orders this thread's register writes (A fragments, accumulators) before the warpgroup's next
// wgmma reads them.
__device__ __forceinline__ void wgmma_fence() {
#if MARLIN_WGMMA_AVAILABLE
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#else
  __trap();
#endif
}

__device__ __forceinline__ void wgmma_commit_group() {
#if MARLIN_WGMMA_AVAILABLE
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#else
  __trap();
#endif
}

// Waits until at most kPending committed groups are still running.
template <int kPending>
__device__ __forceinline__ void wgmma_wait_group() {
#if MARLIN_WGMMA_AVAILABLE
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#else
  __trap();
#endif
}

// Shared memory written by the generic proxy (ordinary stores, cp.async) becomes visible to the
// async proxy that wgmma reads it through; each writing thread, before the barrier.
__device__ __forceinline__ void fence_proxy_async_shared() {
#if MARLIN_WGMMA_AVAILABLE
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// d[j] (8-column group j of this warp's 16 rows) += A * B, for the 64 x N x 16 step (N = 32, 64
// or 128: a warp holds N / 8 fragments).
template <int N, class E>
__device__ __forceinline__ void wgmma_m64k16(FragmentC (&d)[N / 8], const FragmentA& a,
                                             std::uint64_t b_descriptor);

#if MARLIN_WGMMA_AVAILABLE
#define MARLIN_WGMMA_D(j) \
  "+f"(d[j].value[0]), "+f"(d[j].value[1]), "+f"(d[j].value[2]), "+f"(d[j].value[3])
#define MARLIN_WGMMA_D8(j)                                                                     \
  MARLIN_WGMMA_D(j), MARLIN_WGMMA_D(j + 1), MARLIN_WGMMA_D(j + 2), MARLIN_WGMMA_D(j + 3),      \
      MARLIN_WGMMA_D(j + 4), MARLIN_WGMMA_D(j + 5), MARLIN_WGMMA_D(j + 6), MARLIN_WGMMA_D(j + 7)
#define MARLIN_WGMMA_INPUTS \
  "r"(a.reg[0]), "r"(a.reg[1]), "r"(a.reg[2]), "r"(a.reg[3]), "l"(b_descriptor), "n"(1)
// D registers, then A's four, the descriptor and scale-d (1: accumulate into D).
#define MARLIN_WGMMA_N32_OPERANDS \
  "{" \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15" \
  "}, {%16, %17, %18, %19}, %20, accumulate, 1, 1, 0;\n}\n"
#define MARLIN_WGMMA_N64_OPERANDS \
  "{" \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31" \
  "}, {%32, %33, %34, %35}, %36, accumulate, 1, 1, 0;\n}\n"
#define MARLIN_WGMMA_N128_OPERANDS \
  "{" \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63" \
  "}, {%64, %65, %66, %67}, %68, accumulate, 1, 1, 0;\n}\n"
// One specialization: its operand string, the operand number of scale-d, the D registers.
#define MARLIN_DEFINE_WGMMA_N(N, ElementTag, ptx_type, operands, scale_operand, ...)         \
  template <>                                                                                \
  __device__ __forceinline__ void wgmma_m64k16<N, ElementTag>(                               \
      FragmentC(&d)[N / 8], const FragmentA& a, std::uint64_t b_descriptor) {                \
    asm volatile("{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, " scale_operand ", 0;\n" \
                 "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." ptx_type "." ptx_type " " \
                 operands                                                                    \
                 : __VA_ARGS__                                                               \
                 : MARLIN_WGMMA_INPUTS);                                                     \
  }
#define MARLIN_DEFINE_WGMMA(ElementTag, ptx_type)                                             \
  MARLIN_DEFINE_WGMMA_N(32, ElementTag, ptx_type, MARLIN_WGMMA_N32_OPERANDS, "%21",          \
                        MARLIN_WGMMA_D(0), MARLIN_WGMMA_D(1), MARLIN_WGMMA_D(2),             \
                        MARLIN_WGMMA_D(3))                                                   \
  MARLIN_DEFINE_WGMMA_N(64, ElementTag, ptx_type, MARLIN_WGMMA_N64_OPERANDS, "%37",          \
                        MARLIN_WGMMA_D8(0))                                                  \
  MARLIN_DEFINE_WGMMA_N(128, ElementTag, ptx_type, MARLIN_WGMMA_N128_OPERANDS, "%69",        \
                        MARLIN_WGMMA_D8(0), MARLIN_WGMMA_D8(8))
#else
#define MARLIN_DEFINE_WGMMA_N(N, ElementTag)                                                  \
  template <>                                                                                \
  __device__ __forceinline__ void wgmma_m64k16<N, ElementTag>(FragmentC(&)[N / 8],           \
                                                             const FragmentA&, std::uint64_t) { \
    __trap();                                                                                \
  }
#define MARLIN_DEFINE_WGMMA(ElementTag, ptx_type)                                             \
  MARLIN_DEFINE_WGMMA_N(32, ElementTag)                                                      \
  MARLIN_DEFINE_WGMMA_N(64, ElementTag)                                                      \
  MARLIN_DEFINE_WGMMA_N(128, ElementTag)
#endif
MARLIN_DEFINE_WGMMA(Fp16, "f16")
MARLIN_DEFINE_WGMMA(Bf16, "bf16")
#undef MARLIN_DEFINE_WGMMA
#undef MARLIN_DEFINE_WGMMA_N
#undef MARLIN_WGMMA_N128_OPERANDS
#undef MARLIN_WGMMA_N64_OPERANDS
#undef MARLIN_WGMMA_N32_OPERANDS
#undef MARLIN_WGMMA_INPUTS

#undef MARLIN_WGMMA_D8
#undef MARLIN_WGMMA_D

}  // namespace marlin::ptx
