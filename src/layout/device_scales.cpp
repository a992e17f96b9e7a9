// The scale rows the kernels read (packed_format.h, 7.): zero points beside their scales.
#include "marlin/pack.h"

#include <algorithm>
#include <cstring>

#include "layout/packed_format.h"

namespace marlin {

std::vector<std::uint8_t> device_scales(const PackedMatrix& p) {
  check_packed(p, "device_scales");
  const std::size_t n = static_cast<std::size_t>(p.n);
  const std::size_t groups = p.scales.size() / n;
  if (!scheme_has_zeros(p.scheme)) {
    std::vector<std::uint8_t> bytes(p.scales.size() * sizeof(std::uint16_t));
    std::memcpy(bytes.data(), p.scales.data(), bytes.size());
    return bytes;
  }
  const auto row_bytes = static_cast<std::size_t>(layout::device_scale_row_bytes(p.n, true));
  std::vector<std::uint8_t> rows(groups * row_bytes, 0);
  for (std::size_t g = 0; g < groups; ++g) {
    for (int c = 0; c < p.n; c += layout::kScaleBlockColumns) {
      const std::size_t width = std::min(layout::kScaleBlockColumns, p.n - c);
      std::uint8_t* block = rows.data() + g * row_bytes + layout::scale_offset_in_row(c);
      std::memcpy(block, p.scales.data() + g * n + c, width * sizeof(std::uint16_t));
      std::memcpy(block + layout::kZeroOffsetInBlock, p.zeros.data() + g * n + c, width);
    }
  }
  return rows;
}

}  // namespace marlin
