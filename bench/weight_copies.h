// Weights of one layer on the device, in as many identical copies as the L2 rotation needs
// (timing.h, rotation_copies): launch i of a timed sample reads copy i % copies.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/cuda_check.h"
#include "cuda_resources.h"
#include "layout/packed_format.h"
#include "marlin/gemm.h"
#include "marlin/pack.h"
#include "timing.h"

namespace marlin::bench {

// The packed weights of one layer on the device: copy 0 uploaded through the public API, the
// others device-to-device copies of every array of it (codes, scales with their zero points,
// act-order permutation), so that no array of one copy can be served from L2 by another;
// views()[i] is ready to hand to marlin::gemm.
class MarlinWeightCopies {
 public:
  MarlinWeightCopies(const PackedMatrix& packed, std::size_t l2_bytes,
                     std::size_t budget_bytes)
      : first_(upload(packed)),
        qweight_bytes_(packed.qweight.size() * sizeof(std::uint32_t)),
        scale_bytes_(packed.scales.size() / packed.n *
                     layout::device_scale_row_bytes(packed.n, scheme_has_zeros(packed.scheme))),
        perm_bytes_(packed.perm.size() * sizeof(std::int32_t)) {
    const int copies = rotation_copies(bytes(), l2_bytes, budget_bytes);
    views_.push_back(first_.view());
    for (int copy = 1; copy < copies; ++copy) {
      PackedWeightsView view = first_.view();
      view.qweight = static_cast<const std::uint32_t*>(duplicate(view.qweight, qweight_bytes_));
      view.scales = duplicate(view.scales, scale_bytes_);
      view.perm = static_cast<const std::int32_t*>(duplicate(view.perm, perm_bytes_));
      views_.push_back(view);
    }
  }

  const std::vector<PackedWeightsView>& views() const { return views_; }
  // What one GEMM reads of the weights: packed codes, scales (zero points inside), permutation.
  std::size_t bytes() const { return qweight_bytes_ + scale_bytes_ + perm_bytes_; }

 private:
  // A new device copy of `bytes` at `source`; null for an array the weights do not have.
  const void* duplicate(const void* source, std::size_t bytes) {
    if (source == nullptr || bytes == 0) return nullptr;
    buffers_.emplace_back(bytes);
    CUDA_CHECK(cudaMemcpy(buffers_.back().data(), source, bytes, cudaMemcpyDeviceToDevice));
    return buffers_.back().data();
  }

  DeviceMatrix first_;
  std::size_t qweight_bytes_ = 0;
  std::size_t scale_bytes_ = 0;
  std::size_t perm_bytes_ = 0;
  std::vector<DeviceBuffer> buffers_;
  std::vector<PackedWeightsView> views_;
};

// The dequantized 16-bit (fp16 or bf16) weights of one layer for cuBLAS, in `copies` copies: as
// many as the rotation needs when cuBLAS is timed on them, one when they only serve the check.
class DequantizedWeightCopies {
 public:
  DequantizedWeightCopies(const std::vector<std::uint16_t>& host, int copies) {
    const std::size_t bytes = host.size() * sizeof(std::uint16_t);
    copies_.emplace_back(bytes);
    CUDA_CHECK(cudaMemcpy(copies_[0].data(), host.data(), bytes, cudaMemcpyHostToDevice));
    for (int copy = 1; copy < copies; ++copy) {
      copies_.emplace_back(bytes);
      CUDA_CHECK(cudaMemcpy(copies_.back().data(), copies_[0].data(), bytes,
                            cudaMemcpyDeviceToDevice));
    }
  }
  const void* copy(int index) const {
    return copies_[static_cast<std::size_t>(index) % copies_.size()].data();
  }
  int count() const { return static_cast<int>(copies_.size()); }

 private:
  std::vector<DeviceBuffer> copies_;
};

}  // namespace marlin::bench
