// The safetensors header parser. The input is untrusted: every number is checked before it is
// used in arithmetic or as an offset, and errors name the file and the tensor.
#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/io_util.h"
#include "marlin/io/safetensors.h"

namespace marlin::io {

namespace {

struct DTypeName {
  StDType dtype;
  const char* name;
  std::size_t size;
};

constexpr DTypeName kDTypes[] = {
    {StDType::kBool, "BOOL", 1},  {StDType::kU8, "U8", 1},        {StDType::kI8, "I8", 1},
    {StDType::kU16, "U16", 2},    {StDType::kI16, "I16", 2},      {StDType::kF16, "F16", 2},
    {StDType::kBF16, "BF16", 2},  {StDType::kU32, "U32", 4},      {StDType::kI32, "I32", 4},
    {StDType::kF32, "F32", 4},    {StDType::kU64, "U64", 8},      {StDType::kI64, "I64", 8},
    {StDType::kF64, "F64", 8},    {StDType::kF8E4M3, "F8_E4M3", 1}, {StDType::kF8E5M2, "F8_E5M2", 1},
};

// JSON nesting a valid header needs: root object (1) > entry object (2) > shape array (3).
constexpr int kMaxJsonDepth = 3;

struct HeaderRejected {
  std::string reason;
};

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + "]";
}

// Parses JSON, rejecting duplicate keys (which nlohmann would silently overwrite) and nesting
// deeper than a header can need.
nlohmann::json parse_json_strictly(const char* begin, const char* end) {
  std::vector<std::set<std::string>> open_objects;
  int depth_seen = 0;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start || event == Event::array_start) {
      depth_seen = depth + 1;
      if (depth_seen > kMaxJsonDepth) {
        throw HeaderRejected{"JSON nesting deeper than " + std::to_string(kMaxJsonDepth) +
                             " levels"};
      }
      if (event == Event::object_start) open_objects.emplace_back();
    } else if (event == Event::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Event::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.empty() && !open_objects.back().insert(key).second) {
        throw HeaderRejected{"duplicate key '" + key + "'"};
      }
    }
    return true;
  };
  return nlohmann::json::parse(begin, end, callback, /*allow_exceptions=*/true,
                               /*ignore_comments=*/false);
}

std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, bool* overflow) {
  std::uint64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) *overflow = true;
  return product;
}

TensorInfo parse_entry(const std::string& name, const nlohmann::json& entry,
                       std::uint64_t data_size) {
  auto fail = [&](const std::string& reason) -> HeaderRejected {
    return HeaderRejected{"tensor '" + name + "': " + reason};
  };
  if (name.empty()) throw fail("empty tensor name");
  if (!entry.is_object()) throw fail("entry must be a JSON object");
  for (const auto& item : entry.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      throw fail("unknown key '" + item.key() + "'");
    }
  }
  TensorInfo info;
  info.name = name;

  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) throw fail("missing or non-string 'dtype'");
  const std::string& dtype_name = dtype->get_ref<const std::string&>();
  if (!st_dtype_from_name(dtype_name, &info.dtype)) {
    throw fail("unknown dtype '" + dtype_name + "'");
  }

  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) throw fail("missing or non-array 'shape'");
  if (shape->size() > kMaxTensorRank) {
    throw fail("rank " + std::to_string(shape->size()) + " exceeds " +
               std::to_string(kMaxTensorRank));
  }
  for (const auto& dim : *shape) {
    if (!dim.is_number_unsigned()) throw fail("shape entries must be non-negative integers");
    info.shape.push_back(dim.get<std::uint64_t>());
  }

  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
    throw fail("'data_offsets' must be two non-negative integers [begin, end]");
  }
  info.begin = (*offsets)[0].get<std::uint64_t>();
  info.end = (*offsets)[1].get<std::uint64_t>();
  if (info.begin > info.end) {
    throw fail("data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
               "] has begin > end");
  }
  if (info.end > data_size) {
    throw fail("data_offsets end " + std::to_string(info.end) + " is past the byte buffer (" +
               std::to_string(data_size) + " bytes)");
  }

  bool overflow = false;
  std::uint64_t count = 1;
  for (std::uint64_t dim : info.shape) count = checked_mul(count, dim, &overflow);
  const std::uint64_t expected = checked_mul(count, st_dtype_size(info.dtype), &overflow);
  if (overflow) throw fail("shape " + shape_text(info.shape) + " overflows 64-bit byte counts");
  if (expected != info.end - info.begin) {
    throw fail(dtype_name + shape_text(info.shape) + " needs " + std::to_string(expected) +
               " bytes but data_offsets [" + std::to_string(info.begin) + ", " +
               std::to_string(info.end) + "] span " + std::to_string(info.end - info.begin));
  }
  return info;
}

}  // namespace

std::size_t st_dtype_size(StDType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.size;
  }
  return 0;
}

std::string_view st_dtype_name(StDType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.name;
  }
  return "?";
}

bool st_dtype_from_name(std::string_view name, StDType* dtype) {
  for (const auto& entry : kDTypes) {
    if (name == entry.name) {
      *dtype = entry.dtype;
      return true;
    }
  }
  return false;
}

std::uint64_t TensorInfo::numel() const {
  std::uint64_t count = 1;
  for (std::uint64_t dim : shape) count *= dim;
  return count;
}

std::string TensorInfo::describe() const {
  return std::string(st_dtype_name(dtype)) + shape_text(shape);
}

std::uint64_t TensorData::numel() const {
  std::uint64_t count = 1;
  for (std::uint64_t dim : shape) count *= dim;
  return count;
}

std::string TensorData::describe() const {
  return std::string(st_dtype_name(dtype)) + shape_text(shape);
}

const TensorInfo* SafetensorsHeader::find(std::string_view name) const {
  for (const auto& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

SafetensorsHeader parse_safetensors_header(const std::uint8_t* bytes, std::size_t size,
                                           std::uint64_t file_size, const std::string& file_label) {
  const std::string where = file_label + ": ";
  if (file_size < 8 || size < 8) {
    throw_io(where + "file is " + std::to_string(file_size) +
             " bytes, shorter than the 8-byte header length");
  }
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kMaxHeaderBytes) {
    throw_io(where + "header length " + std::to_string(header_size) + " exceeds the limit of " +
             std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (header_size > file_size - 8) {
    throw_io(where + "header length " + std::to_string(header_size) + " is past the end of the " +
             std::to_string(file_size) + "-byte file (truncated?)");
  }
  if (header_size > size - 8) {
    throw_io(where + "header length " + std::to_string(header_size) + " is past the " +
             std::to_string(size) + " bytes given");
  }
  if (header_size < 2 || bytes[8] != '{') {
    throw_io(where + "header must be a JSON object starting with '{'");
  }

  SafetensorsHeader header;
  header.data_start = 8 + header_size;
  header.data_size = file_size - header.data_start;
  const char* json_begin = reinterpret_cast<const char*>(bytes + 8);
  try {
    const nlohmann::json root = parse_json_strictly(json_begin, json_begin + header_size);
    if (!root.is_object()) throw HeaderRejected{"header must be a JSON object"};
    for (const auto& item : root.items()) {
      if (item.key() == "__metadata__") {
        if (!item.value().is_object()) throw HeaderRejected{"__metadata__ must be an object"};
        for (const auto& meta : item.value().items()) {
          if (!meta.value().is_string()) {
            throw HeaderRejected{"__metadata__ value of '" + meta.key() + "' must be a string"};
          }
          header.metadata[meta.key()] = meta.value().get<std::string>();
        }
        continue;
      }
      header.tensors.push_back(parse_entry(item.key(), item.value(), header.data_size));
    }
  } catch (const HeaderRejected& rejected) {
    throw_io(where + rejected.reason);
  } catch (const nlohmann::json::exception& error) {
    throw_io(where + "header is not valid JSON: " + error.what());
  }

  // Offsets must tile the byte buffer exactly: sorted, each tensor starting where the previous
  // ended, from 0 to the end of the file. This rules out overlap (aliasing) and hidden bytes.
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  std::uint64_t expected_begin = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& tensor : header.tensors) {
    if (tensor.begin != expected_begin) {
      throw_io(where + "tensor '" + tensor.name + "' starts at " + std::to_string(tensor.begin) +
               " but " +
               (previous ? "'" + previous->name + "' ends at " : std::string("the buffer starts at ")) +
               std::to_string(expected_begin) +
               (tensor.begin < expected_begin ? " (overlap)" : " (gap)"));
    }
    expected_begin = tensor.end;
    previous = &tensor;
  }
  if (expected_begin != header.data_size) {
    throw_io(where + "tensors cover " + std::to_string(expected_begin) + " bytes but the byte " +
             "buffer holds " + std::to_string(header.data_size) +
             (expected_begin < header.data_size ? " (trailing bytes)" : ""));
  }
  return header;
}

}  // namespace marlin::io
