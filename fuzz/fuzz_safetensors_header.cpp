// libFuzzer target: the safetensors header parser on arbitrary bytes. The parser must either
// return a header whose every tensor lies inside the buffer, or throw marlin::Error(kIo); any
// other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "marlin/io/safetensors.h"
#include "marlin/status.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto header = marlin::io::parse_safetensors_header(data, size, size, "fuzz");
    std::uint64_t covered = 0;
    for (const auto& tensor : header.tensors) {
      // Invariants the rest of marlin relies on.
      if (tensor.begin != covered || tensor.end < tensor.begin) std::abort();
      if (tensor.numel() * marlin::io::st_dtype_size(tensor.dtype) != tensor.nbytes()) {
        std::abort();
      }
      covered = tensor.end;
    }
    if (covered != header.data_size || header.data_start + header.data_size != size) std::abort();
  } catch (const marlin::Error& error) {
    if (error.code() != marlin::ErrorCode::kIo) std::abort();
  }
  return 0;
}
