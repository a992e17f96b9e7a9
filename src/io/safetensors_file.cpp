// Reading safetensors files through a read-only mmap: tensors are views into the mapping.
#include <utility>

#include "io/io_util.h"
#include "marlin/io/safetensors.h"

namespace marlin::io {

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file;
  file.path_ = path;
  file.mapping_ = std::make_unique<MappedFile>(path);
  file.header_ = parse_safetensors_header(file.mapping_->data(), file.mapping_->size(),
                                          file.mapping_->size(), path);
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

TensorData SafetensorsFile::tensor(std::string_view name) const {
  const TensorInfo* info = header_.find(name);
  if (info == nullptr) throw_io(path_ + ": no tensor named '" + std::string(name) + "'");
  TensorData view;
  view.dtype = info->dtype;
  view.shape = info->shape;
  view.data = mapping_->data() + header_.data_start + info->begin;
  view.size = static_cast<std::size_t>(info->nbytes());
  view.name = info->name;
  return view;
}

}  // namespace marlin::io
