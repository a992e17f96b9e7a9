// pack() / unpack(): the checks, the act-order permutation, and the scale and zero-point rows
// (packed_format.h, sections 3, 4 and 6). The codes themselves are placed by pack_codes.cpp.
#include "marlin/pack.h"

#include <string>

#include "layout/act_order.h"
#include "layout/pack_codes.h"
#include "layout/packed_format.h"
#include "marlin/half.h"
#include "marlin/status.h"

namespace marlin {
namespace {

// Index of column `col` of row `group` of a scale (or zero) matrix in the stored order, which is
// transposed as an 8 x 8 block within every 64 columns.
std::size_t stored_index(int group, int col, int n) {
  const int tile_start = col - col % layout::kTileN;
  return static_cast<std::size_t>(group) * n + tile_start +
         layout::scale_position_in_tile(col % layout::kTileN);
}

// A (groups x n) row-major matrix in the stored order, each value converted by `convert`.
template <typename Stored, typename Plain, typename Convert>
std::vector<Stored> to_stored_order(const std::vector<Plain>& plain, int n, Convert convert) {
  std::vector<Stored> stored(plain.size());
  const int groups = static_cast<int>(plain.size() / static_cast<std::size_t>(n));
  for (int g = 0; g < groups; ++g) {
    for (int col = 0; col < n; ++col) {
      stored[stored_index(g, col, n)] = convert(plain[static_cast<std::size_t>(g) * n + col]);
    }
  }
  return stored;
}

// The inverse of to_stored_order.
template <typename Plain, typename Stored, typename Convert>
std::vector<Plain> from_stored_order(const std::vector<Stored>& stored, int n, Convert convert) {
  std::vector<Plain> plain(stored.size());
  const int groups = static_cast<int>(stored.size() / static_cast<std::size_t>(n));
  for (int g = 0; g < groups; ++g) {
    for (int col = 0; col < n; ++col) {
      plain[static_cast<std::size_t>(g) * n + col] = convert(stored[stored_index(g, col, n)]);
    }
  }
  return plain;
}

bool is_known_scheme(QuantScheme scheme) {
  switch (scheme) {
    case QuantScheme::kSymmetricInt4:
    case QuantScheme::kAsymmetricInt4:
    case QuantScheme::kSymmetricInt8: return true;
  }
  return false;
}

}  // namespace

void check_packed(const PackedMatrix& p, const char* caller) {
  const std::string prefix = std::string(caller) + ": ";
  require(is_known_scheme(p.scheme), prefix + "scheme=" +
                                         std::to_string(static_cast<int>(p.scheme)) +
                                         " is not a QuantScheme");
  require(p.k > 0 && p.n > 0 && p.k % layout::kTileK == 0 && p.n % layout::kTileN == 0,
          prefix + "k=" + std::to_string(p.k) + ", n=" + std::to_string(p.n) +
              " must be positive multiples of 16 and 64");
  const int codes_per_word = 32 / scheme_bits(p.scheme);
  require(p.qweight.size() == static_cast<std::size_t>(p.k) * p.n / codes_per_word,
          prefix + "qweight has " + std::to_string(p.qweight.size()) + " words; expected k*n/" +
              std::to_string(codes_per_word) + "=" +
              std::to_string(static_cast<std::size_t>(p.k) * p.n / codes_per_word) + " (" +
              std::to_string(scheme_bits(p.scheme)) + "-bit codes)");
  require(p.group_size == kPerChannel || (p.group_size > 0 && p.k % p.group_size == 0),
          prefix + "k=" + std::to_string(p.k) + " must be a multiple of group_size=" +
              std::to_string(p.group_size) + " (or group_size -1, per-channel)");
  require(p.scale_dtype == DType::kFloat16 || p.scale_dtype == DType::kBFloat16,
          prefix + "scale dtype must be fp16 or bf16");
  const int groups = p.group_size == kPerChannel ? 1 : p.k / p.group_size;
  const std::size_t group_values = static_cast<std::size_t>(groups) * p.n;
  require(p.scales.size() == group_values,
          prefix + "scales has " + std::to_string(p.scales.size()) + " values; expected " +
              std::to_string(groups) + " x " + std::to_string(p.n));
  if (scheme_has_zeros(p.scheme)) {
    require(p.zeros.size() == group_values,
            prefix + "zeros has " + std::to_string(p.zeros.size()) + " values; expected " +
                std::to_string(groups) + " x " + std::to_string(p.n) + " (asymmetric INT4)");
  } else {
    require(p.zeros.empty(), prefix + "zeros has " + std::to_string(p.zeros.size()) +
                                 " values; a symmetric scheme stores none");
  }
  if (!p.perm.empty()) {
    require(p.group_size != kPerChannel,
            prefix + "perm given for per-channel weights (group_size=-1); act-order needs groups");
    require(layout::is_permutation(p.perm, p.k),
            prefix + "perm (" + std::to_string(p.perm.size()) +
                " entries) must hold each row 0..k-1 exactly once (k=" + std::to_string(p.k) +
                ")");
  }
}


void check_packable(const QuantizedMatrix& w) {
  validate(w);
  require(w.k % layout::kTileK == 0,
          "pack: k=" + std::to_string(w.k) + " must be a multiple of " +
              std::to_string(layout::kTileK));
  require(w.n % layout::kTileN == 0,
          "pack: n=" + std::to_string(w.n) + " must be a multiple of " +
              std::to_string(layout::kTileN));
  layout::act_order_permutation(w);  // throws naming the act-order rule
  // Scales are stored as fp16/bf16 bits: one that the type cannot hold exactly would change
  // silently in the packed copy.
  for (std::size_t i = 0; i < w.scales.size(); ++i) {
    const float scale = w.scales[i];
    if (float_from_16bit(float_to_16bit(scale, w.scale_dtype), w.scale_dtype) != scale) {
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
  // Sorting the rows by group leaves the scale and zero rows as they are: group g is packed rows
  // g*group_size .. (g+1)*group_size-1 and keeps scale row g.
  p.perm = layout::act_order_permutation(w);
  p.qweight = layout::pack_codes(w.q, w.k, w.n, scheme_bits(w.scheme), p.perm);
  p.scales = to_stored_order<std::uint16_t>(
      w.scales, w.n, [&](float value) { return float_to_16bit(value, w.scale_dtype); });
  if (scheme_has_zeros(w.scheme)) {
    p.zeros = to_stored_order<std::uint8_t>(w.zeros, w.n, [](std::uint8_t z) { return z; });
  }
  return p;
}

QuantizedMatrix unpack(const PackedMatrix& p) {
  check_packed(p, "unpack");
  QuantizedMatrix w;
  w.scheme = p.scheme;
  w.k = p.k;
  w.n = p.n;
  w.group_size = p.group_size;
  w.scale_dtype = p.scale_dtype;
  w.q = layout::unpack_codes(p.qweight, p.k, p.n, scheme_bits(p.scheme), p.perm);
  w.scales = from_stored_order<float>(
      p.scales, p.n, [&](std::uint16_t bits) { return float_from_16bit(bits, p.scale_dtype); });
  if (scheme_has_zeros(p.scheme)) {
    w.zeros = from_stored_order<std::uint8_t>(p.zeros, p.n, [](std::uint8_t z) { return z; });
  }
  if (!p.perm.empty()) w.g_idx = layout::g_idx_of_permutation(p.perm, p.group_size);
  validate(w);  // zero points beyond 15 are the one thing the checks above leave
  return w;
}

}  // namespace marlin
