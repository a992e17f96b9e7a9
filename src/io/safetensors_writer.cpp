// Writing safetensors files: header first (all sizes are known up front), then each tensor's
// bytes as its producer makes them, into a temporary file that is renamed into place.
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

#include "io/io_util.h"
#include "marlin/io/safetensors.h"

namespace marlin::io {

namespace {

std::uint64_t shape_bytes(const std::string& name, StDType dtype,
                          const std::vector<std::uint64_t>& shape) {
  std::uint64_t bytes = st_dtype_size(dtype);
  for (std::uint64_t dim : shape) {
    if (__builtin_mul_overflow(bytes, dim, &bytes)) {
      throw Error(ErrorCode::kInvalidArgument, "safetensors writer: tensor '" + name +
                                                   "' has a shape whose size overflows");
    }
  }
  return bytes;
}

}  // namespace

void SafetensorsWriter::add(std::string name, StDType dtype, std::vector<std::uint64_t> shape,
                            Producer producer) {
  require(!name.empty() && name != "__metadata__",
          "safetensors writer: tensor name '" + name + "' is reserved or empty");
  require(shape.size() <= kMaxTensorRank, "safetensors writer: tensor '" + name + "' has rank " +
                                              std::to_string(shape.size()) + " > " +
                                              std::to_string(kMaxTensorRank));
  for (const auto& entry : entries_) {
    require(entry.name != name, "safetensors writer: tensor '" + name + "' added twice");
  }
  const std::uint64_t size = shape_bytes(name, dtype, shape);
  entries_.push_back(Entry{std::move(name), dtype, std::move(shape), next_offset_, size,
                           std::move(producer)});
  next_offset_ += size;
}

void SafetensorsWriter::add_borrowed(std::string name, StDType dtype,
                                     std::vector<std::uint64_t> shape, const void* data,
                                     std::size_t size) {
  const std::uint64_t expected = shape_bytes(name, dtype, shape);
  require(expected == size, "safetensors writer: tensor '" + name + "' has " +
                                std::to_string(size) + " bytes; its shape needs " +
                                std::to_string(expected));
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  add(std::move(name), dtype, std::move(shape),
      [bytes, size](std::vector<std::uint8_t>& out) { out.assign(bytes, bytes + size); });
}

void SafetensorsWriter::add_copy(std::string name, StDType dtype, std::vector<std::uint64_t> shape,
                                 const void* data, std::size_t size) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  auto copy = std::make_shared<std::vector<std::uint8_t>>(bytes, bytes + size);
  const std::uint64_t expected = shape_bytes(name, dtype, shape);
  require(expected == size, "safetensors writer: tensor '" + name + "' has " +
                                std::to_string(size) + " bytes; its shape needs " +
                                std::to_string(expected));
  add(std::move(name), dtype, std::move(shape),
      [copy](std::vector<std::uint8_t>& out) { out = *copy; });
}

std::vector<std::uint8_t> SafetensorsWriter::header_bytes() const {
  nlohmann::json root = nlohmann::json::object();
  if (!metadata_.empty()) root["__metadata__"] = metadata_;
  for (const auto& entry : entries_) {
    root[entry.name] = {{"dtype", std::string(st_dtype_name(entry.dtype))},
                        {"shape", entry.shape},
                        {"data_offsets", {entry.begin, entry.begin + entry.size}}};
  }
  std::string json = root.dump();
  // Pad with spaces so the byte buffer starts 8-byte aligned (as the reference writer does).
  json.append((8 - json.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> bytes(8 + json.size());
  std::uint64_t length = json.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] =
      static_cast<std::uint8_t>(length >> (8 * i));
  std::memcpy(bytes.data() + 8, json.data(), json.size());
  return bytes;
}

void SafetensorsWriter::write(const std::string& path, const Progress& progress) const {
  AtomicFile file(path);
  const std::vector<std::uint8_t> header = header_bytes();
  file.write(header.data(), header.size());
  std::vector<std::uint8_t> bytes;
  for (const auto& entry : entries_) {
    bytes.clear();
    entry.producer(bytes);
    if (bytes.size() != entry.size) {
      throw Error(ErrorCode::kInternal, "safetensors writer: tensor '" + entry.name +
                                            "' produced " + std::to_string(bytes.size()) +
                                            " bytes; declared " + std::to_string(entry.size));
    }
    file.write(bytes.data(), bytes.size());
    if (progress) progress(entry.name, entry.size);
  }
  file.commit();
}

}  // namespace marlin::io
