// Packing into the tiled INT4 layout of packed_format.h, and its exact inverse.
#include "marlin/pack.h"

#include <string>

#include "layout/packed_format.h"
#include "marlin/half.h"
#include "marlin/status.h"

namespace marlin {
namespace {

std::uint16_t scale_bits(float value, DType dtype) {
  return dtype == DType::kBFloat16 ? float_to_bf16(value).bits : float_to_half(value).bits;
}

float scale_value(std::uint16_t bits, DType dtype) {
  return dtype == DType::kBFloat16 ? bf16_to_float(BFloat16{bits}) : half_to_float(Half{bits});
}

// Index of column `col` of scale row `group` in the stored (transposed-per-tile) order.
std::size_t stored_scale_index(int group, int col, int n) {
  const int tile_start = col - col % layout::kTileN;
  return static_cast<std::size_t>(group) * n + tile_start +
         layout::scale_position_in_tile(col % layout::kTileN);
}

}  // namespace

void check_packable(const QuantizedMatrix& w) {
  validate(w);
  if (w.scheme != QuantScheme::kSymmetricInt4) {
    throw Error(ErrorCode::kUnsupported,
                "pack: only symmetric INT4 (implicit zero 8) has a packed layout so far");
  }
  require(w.g_idx.empty(), "pack: act-order (g_idx) weights are not supported yet");
  require(w.k % layout::kTileK == 0,
          "pack: k=" + std::to_string(w.k) + " must be a multiple of " +
              std::to_string(layout::kTileK));
  require(w.n % layout::kTileN == 0,
          "pack: n=" + std::to_string(w.n) + " must be a multiple of " +
              std::to_string(layout::kTileN));
  // Scales are stored as fp16/bf16 bits: one that the type cannot hold exactly would change
  // silently in the packed copy.
  for (std::size_t i = 0; i < w.scales.size(); ++i) {
    const float scale = w.scales[i];
    if (scale_value(scale_bits(scale, w.scale_dtype), w.scale_dtype) != scale) {
      require(false, "pack: scales[" + std::to_string(i) + "]=" + std::to_string(scale) +
                         " is not exactly representable in " +
                         std::string(dtype_name(w.scale_dtype)));
    }
  }
}

PackedMatrix pack(const QuantizedMatrix& w) {
  check_packable(w);
  PackedMatrix p;
  p.scheme = w.scheme;
  p.k = w.k;
  p.n = w.n;
  p.group_size = w.group_size;
  p.scale_dtype = w.scale_dtype;
  p.qweight.assign(static_cast<std::size_t>(w.k) * w.n / 8, 0u);
  for (int row = 0; row < w.k; ++row) {
    for (int col = 0; col < w.n; ++col) {
      const auto slot = layout::int4_slot_in_tile(row % layout::kTileK, col % layout::kTileN);
      const std::int64_t word = layout::int4_tile_word_offset(row / layout::kTileK,
                                                              col / layout::kTileN, w.n) +
                                slot.word;
      const std::uint32_t code = w.q[static_cast<std::size_t>(row) * w.n + col];
      p.qweight[static_cast<std::size_t>(word)] |= code << (4 * slot.nibble);
    }
  }
  const int groups = w.groups();
  p.scales.resize(static_cast<std::size_t>(groups) * w.n);
  for (int g = 0; g < groups; ++g) {
    for (int col = 0; col < w.n; ++col) {
      p.scales[stored_scale_index(g, col, w.n)] =
          scale_bits(w.scales[static_cast<std::size_t>(g) * w.n + col], w.scale_dtype);
    }
  }
  return p;
}

QuantizedMatrix unpack(const PackedMatrix& p) {
  require(p.scheme == QuantScheme::kSymmetricInt4, "unpack: only symmetric INT4 is packed so far");
  require(p.k > 0 && p.n > 0 && p.k % layout::kTileK == 0 && p.n % layout::kTileN == 0,
          "unpack: k=" + std::to_string(p.k) + ", n=" + std::to_string(p.n) +
              " must be positive multiples of 16 and 64");
  require(p.qweight.size() == static_cast<std::size_t>(p.k) * p.n / 8,
          "unpack: qweight has " + std::to_string(p.qweight.size()) + " words; expected k*n/8");
  require(p.group_size == kPerChannel || (p.group_size > 0 && p.k % p.group_size == 0),
          "unpack: k=" + std::to_string(p.k) + " must be a multiple of group_size=" +
              std::to_string(p.group_size) + " (or group_size -1, per-channel)");
  require(p.scale_dtype == DType::kFloat16 || p.scale_dtype == DType::kBFloat16,
          "unpack: scale dtype must be fp16 or bf16");
  QuantizedMatrix w;
  w.scheme = p.scheme;
  w.k = p.k;
  w.n = p.n;
  w.group_size = p.group_size;
  w.scale_dtype = p.scale_dtype;
  const int groups = w.groups();
  require(p.scales.size() == static_cast<std::size_t>(groups) * p.n,
          "unpack: scales has " + std::to_string(p.scales.size()) + " values; expected " +
              std::to_string(groups) + " x " + std::to_string(p.n));
  w.q.resize(static_cast<std::size_t>(p.k) * p.n);
  for (int row = 0; row < p.k; ++row) {
    for (int col = 0; col < p.n; ++col) {
      const auto slot = layout::int4_slot_in_tile(row % layout::kTileK, col % layout::kTileN);
      const std::int64_t word = layout::int4_tile_word_offset(row / layout::kTileK,
                                                              col / layout::kTileN, p.n) +
                                slot.word;
      w.q[static_cast<std::size_t>(row) * p.n + col] = static_cast<std::uint8_t>(
          (p.qweight[static_cast<std::size_t>(word)] >> (4 * slot.nibble)) & 0xfu);
    }
  }
  w.scales.resize(p.scales.size());
  for (int g = 0; g < groups; ++g) {
    for (int col = 0; col < p.n; ++col) {
      w.scales[static_cast<std::size_t>(g) * p.n + col] =
          scale_value(p.scales[stored_scale_index(g, col, p.n)], p.scale_dtype);
    }
  }
  return w;
}

}  // namespace marlin
