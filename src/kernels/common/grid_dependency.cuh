// Programmatic dependent launch (sm_90+; PTX ISA: "griddepcontrol"). A kernel launched with
// cudaLaunchAttributeProgrammaticStreamSerialization may start while the kernel before it in the
// stream is still running; it must then wait (wait_for_previous_grid) before it touches anything
// that kernel writes. The wait returns at once for a normal launch, and both calls compile to
// nothing before sm_90, so kernels use them unconditionally.
//
//   previous kernel  [========================]...tail...|
//   this kernel               [prefetch static weights] wait [A, C, workspace ............]
#pragma once

namespace marlin::ptx {

// Blocks until the previous grid in the stream has completed and its memory is visible.
__device__ __forceinline__ void wait_for_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next grid in the stream launch early (if it was launched programmatically); it still
// waits for this grid's completion before reading what this grid writes.
__device__ __forceinline__ void allow_next_grid_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

}  // namespace marlin::ptx
