// Tensor-core fragments and mma.sync (sm_80+). PTX ISA: "Warp-level matrix multiply-accumulate
// instructions: mma.m16n8k16" and "ldmatrix".
//
// Fragment ownership for m16n8k16 (lane t, g = t/4, r = t%4):
//   A (16x16, row):  a0 = A[g][2r..2r+1]    a1 = A[g+8][2r..2r+1]
//                    a2 = A[g][2r+8..+9]    a3 = A[g+8][2r+8..+9]
//   B (16x8,  col):  b0 = B[2r..2r+1][g]    b1 = B[2r+8..2r+9][g]
//   C (16x8, fp32):  c0,c1 = C[g][2r..2r+1] c2,c3 = C[g+8][2r..2r+1]
#pragma once

#include <cstdint>

namespace marlin::ptx {

struct FragmentA {
  std::uint32_t reg[4];  // 8 halves
};
struct FragmentB {
  std::uint32_t reg[2];  // 4 halves
};
struct FragmentC {
  float value[4];
};

struct Fp16;  // element tags, defined in dequant.cuh
struct Bf16;

// Four 8x8 b16 matrices from shared memory; lane t gives the row address of matrix t/8, row t%8.
__device__ __forceinline__ void ldmatrix_x4(FragmentA& frag, std::uint32_t shared_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(frag.reg[0]), "=r"(frag.reg[1]), "=r"(frag.reg[2]), "=r"(frag.reg[3])
               : "r"(shared_addr));
}

// `value`, as a register the compiler cannot recompute from its inputs (a volatile mov): for
// loop-invariant values it would otherwise rematerialize in every iteration.
__device__ __forceinline__ int opaque(int value) {
  int result;
  asm volatile("mov.b32 %0, %1;\n" : "=r"(result) : "r"(value));
  return result;
}

// Two 8x8 b16 matrices; lanes 0-15 give the row addresses (matrix t/8, row t%8).
__device__ __forceinline__ void ldmatrix_x2(FragmentB& frag, std::uint32_t shared_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(frag.reg[0]), "=r"(frag.reg[1])
               : "r"(shared_addr));
}

// D = A * B + D with fp32 accumulators; E (Fp16 or Bf16, dequant.cuh) names the input type.
template <class E>
__device__ __forceinline__ void mma_m16n8k16(FragmentC& c, const FragmentA& a, const FragmentB& b);

#define MARLIN_DEFINE_MMA_M16N8K16(ElementTag, ptx_type)                                          \
  template <>                                                                                     \
  __device__ __forceinline__ void mma_m16n8k16<ElementTag>(FragmentC & c, const FragmentA& a,     \
                                                           const FragmentB& b) {                  \
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." ptx_type "." ptx_type ".f32 "          \
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"               \
                 : "+f"(c.value[0]), "+f"(c.value[1]), "+f"(c.value[2]), "+f"(c.value[3])       \
                 : "r"(a.reg[0]), "r"(a.reg[1]), "r"(a.reg[2]), "r"(a.reg[3]), "r"(b.reg[0]),     \
                   "r"(b.reg[1]));                                                                \
  }
MARLIN_DEFINE_MMA_M16N8K16(Fp16, "f16")
MARLIN_DEFINE_MMA_M16N8K16(Bf16, "bf16")
#undef MARLIN_DEFINE_MMA_M16N8K16

// D = A * B (the accumulator input is zero: starts a new partial sum without zeroing D first).
template <class E>
__device__ __forceinline__ void mma_m16n8k16_fresh(FragmentC& d, const FragmentA& a,
                                                   const FragmentB& b);

#define MARLIN_DEFINE_MMA_M16N8K16_FRESH(ElementTag, ptx_type)                                    \
  template <>                                                                                     \
  __device__ __forceinline__ void mma_m16n8k16_fresh<ElementTag>(                                 \
      FragmentC & d, const FragmentA& a, const FragmentB& b) {                                    \
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." ptx_type "." ptx_type ".f32 "          \
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %10, %10, %10};\n"          \
                 : "=f"(d.value[0]), "=f"(d.value[1]), "=f"(d.value[2]), "=f"(d.value[3])       \
                 : "r"(a.reg[0]), "r"(a.reg[1]), "r"(a.reg[2]), "r"(a.reg[3]), "r"(b.reg[0]),     \
                   "r"(b.reg[1]), "f"(0.0f));                                                     \
  }
MARLIN_DEFINE_MMA_M16N8K16_FRESH(Fp16, "f16")
MARLIN_DEFINE_MMA_M16N8K16_FRESH(Bf16, "bf16")
#undef MARLIN_DEFINE_MMA_M16N8K16_FRESH

}  // namespace marlin::ptx
