// Weights of one layer on the device, in as many identical copies as the L2 rotation needs
// (timing.h, rotation_copies): launch i of a timed sample reads copy i % copies.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/cuda_check.h"
#include "cuda_resources.h"
#include "marlin/gemm.h"
#include "marlin/pack.h"
#include "timing.h"

namespace marlin::bench {

// The packed weights of one layer on the device: copy 0 uploaded through the public API, the
// others device-to-device copies of it; views()[i] is ready to hand to marlin::gemm.
class MarlinWeightCopies {
 public:
  MarlinWeightCopies(const PackedMatrix& packed, std::size_t l2_bytes,
                     std::size_t budget_bytes)
      : first_(upload(packed)),
        qweight_bytes_(packed.qweight.size() * sizeof(std::uint32_t)),
        scale_bytes_(packed.scales.size() * sizeof(std::uint16_t)) {
    const int copies = rotation_copies(bytes(), l2_bytes, budget_bytes);
    views_.push_back(first_.view());
    for (int copy = 1; copy < copies; ++copy) {
      PackedWeightsView view = first_.view();
      buffers_.emplace_back(qweight_bytes_);
      CUDA_CHECK(cudaMemcpy(buffers_.back().data(), view.qweight, qweight_bytes_,
                            cudaMemcpyDeviceToDevice));
      view.qweight = buffers_.back().as<std::uint32_t>();
      buffers_.emplace_back(scale_bytes_);
      CUDA_CHECK(cudaMemcpy(buffers_.back().data(), view.scales, scale_bytes_,
                            cudaMemcpyDeviceToDevice));
      view.scales = buffers_.back().data();
      views_.push_back(view);
    }
  }

  const std::vector<PackedWeightsView>& views() const { return views_; }
  // What one GEMM must read of the weights: packed codes plus scales.
  std::size_t bytes() const { return qweight_bytes_ + scale_bytes_; }

 private:
  DeviceMatrix first_;
  std::size_t qweight_bytes_ = 0;
  std::size_t scale_bytes_ = 0;
  std::vector<DeviceBuffer> buffers_;
  std::vector<PackedWeightsView> views_;
};

// The fp16 weights of one layer for cuBLAS, in as many copies as the rotation needs.
class Fp16WeightCopies {
 public:
  Fp16WeightCopies(const std::vector<std::uint16_t>& host, std::size_t l2_bytes,
                   std::size_t budget_bytes) {
    const std::size_t bytes = host.size() * sizeof(std::uint16_t);
    const int copies = rotation_copies(bytes, l2_bytes, budget_bytes);
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
