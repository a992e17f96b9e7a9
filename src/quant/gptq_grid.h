// The quantization grid GPTQ rounds to, written once for both implementations: the fp64 CPU
// reference instantiates it with double, the GPU kernel with float. The conventions are those of
// quantize_rtn() (src/quant/reference.cpp), so GPTQ with an identity Hessian *is* RTN:
//
//   symmetric (int4 / int8)   s = max|w| / (z - 1/2), z = 8 / 128 implicit
//   asymmetric int4           s = (max - min) / 15,   z = clamp(round(-min / s), 0, 15) stored
//                             (min <= 0 <= max: the range always holds 0, so 0 is exact)
//   both                      q = clamp(round(w / s) + z, 0, 2^bits - 1),  w~ = (q - z) * s
//
// with s rounded *up* to the scale dtype (fp16 or bf16), so the kernels see exactly the scale the
// codes were chosen with and max|w| stays inside the grid.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define MARLIN_HOST_DEVICE __host__ __device__
#else
#define MARLIN_HOST_DEVICE
#endif

namespace marlin::gptq {

// What the grid of one scheme looks like; plain values so that kernels can take it by value.
struct GridSpec {
  int max_code = 15;        // 2^bits - 1
  int implicit_zero = 8;    // 8 / 128, or -1 for stored (asymmetric) zeros
  bool bf16_scales = false; // scales rounded to bf16 (else fp16)
  // Clip search (mse_clip); clip_steps == 1 means no search (shrink factor 1 only).
  int clip_steps = 1;
  int clip_grid = 100;
  float clip_norm = 2.4f;
};

template <typename T>
struct GroupParams {
  T scale;
  int zero;
};

// The smallest value of the scale dtype's grid that is >= value (value >= 0). Exact: the result
// is a multiple of the dtype's ulp at value's binade, computed with power-of-two scalings only.
//   fp16: 11 significant bits, subnormal ulp 2^-24, largest finite 65504
//   bf16:  8 significant bits, fp32's exponent range, subnormal ulp 2^-133
// Beyond the largest finite value the result is +Inf (the caller refuses such a weight); a value
// that underflowed to 0 gives the smallest subnormal, never a zero scale.
template <typename T>
MARLIN_HOST_DEVICE inline T ceil_to_scale_dtype(T value, bool bf16) {
  int exponent = 0;
  (void)frexp(value, &exponent);  // value = m * 2^exponent, m in [0.5, 1)
  const int significant_bits = bf16 ? 8 : 11;
  const int min_ulp_exponent = bf16 ? -133 : -24;
  int ulp_exponent = exponent - significant_bits;
  if (ulp_exponent < min_ulp_exponent) ulp_exponent = min_ulp_exponent;
  T result = ldexp(ceil(ldexp(value, -ulp_exponent)), ulp_exponent);
  if (!(result > T(0))) result = ldexp(T(1), min_ulp_exponent);
  if (!bf16 && result > T(65504)) result = T(INFINITY);
  if (bf16 && result > T(3.3895313892515355e38)) result = T(INFINITY);  // largest finite bf16
  return result;
}

template <typename T>
MARLIN_HOST_DEVICE inline int quantize_code(T w, GroupParams<T> params, int max_code) {
  int code = static_cast<int>(rint(w / params.scale)) + params.zero;
  return code < 0 ? 0 : (code > max_code ? max_code : code);
}

template <typename T>
MARLIN_HOST_DEVICE inline T dequantize_code(int code, GroupParams<T> params) {
  return static_cast<T>(code - params.zero) * params.scale;
}

// Scale and zero for the range [lo, hi] shrunk by `shrink` (1 = the full range).
template <typename T>
MARLIN_HOST_DEVICE inline GroupParams<T> params_for_range(T lo, T hi, T shrink, const GridSpec& grid) {
  GroupParams<T> params;
  if (grid.implicit_zero >= 0) {
    const T magnitude = fmax(fabs(lo), fabs(hi)) * shrink;
    params.zero = grid.implicit_zero;
    params.scale = magnitude > T(0) ? magnitude / (static_cast<T>(grid.implicit_zero) - T(0.5))
                                    : T(1);
    params.scale = ceil_to_scale_dtype(params.scale, grid.bf16_scales);
  } else {
    const T low = lo * shrink;
    const T high = hi * shrink;
    const T range = high - low;
    params.scale = range > T(0) ? range / static_cast<T>(grid.max_code) : fmax(fabs(high), T(1));
    params.scale = ceil_to_scale_dtype(params.scale, grid.bf16_scales);
    int zero = static_cast<int>(rint(-low / params.scale));
    params.zero = zero < 0 ? 0 : (zero > grid.max_code ? grid.max_code : zero);
  }
  return params;
}

// Scale and zero of one group of `count` weights, read through `load(i)` (i in [0, count)).
// Without the clip search this is exactly quantize_rtn's choice; with it, the shrink factor
// p = 1 - step / clip_grid (step < clip_steps) whose grid minimises sum |w~ - w|^clip_norm.
template <typename T, typename Load>
MARLIN_HOST_DEVICE inline GroupParams<T> choose_group_params(Load load, int count,
                                                             const GridSpec& grid) {
  T lo = T(0);
  T hi = T(0);
  for (int i = 0; i < count; ++i) {
    const T w = load(i);
    lo = fmin(lo, w);
    hi = fmax(hi, w);
  }
  GroupParams<T> best = params_for_range(lo, hi, T(1), grid);
  if (grid.clip_steps <= 1 || lo == hi || !(best.scale < T(INFINITY))) return best;

  const T norm = static_cast<T>(grid.clip_norm);
  T best_error = T(0);
  for (int step = 0; step < grid.clip_steps; ++step) {
    const T shrink = T(1) - static_cast<T>(step) / static_cast<T>(grid.clip_grid);
    const GroupParams<T> candidate = params_for_range(lo, hi, shrink, grid);
    T error = T(0);
    for (int i = 0; i < count; ++i) {
      const T w = load(i);
      const T difference =
          fabs(dequantize_code(quantize_code(w, candidate, grid.max_code), candidate) - w);
      error += norm == T(2) ? difference * difference : pow(difference, norm);
    }
    if (step == 0 || error < best_error) {
      best_error = error;
      best = candidate;
    }
  }
  return best;
}

}  // namespace marlin::gptq
