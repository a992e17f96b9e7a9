// GPU tests: skip with a message (never fail, never pass silently) where no GPU is usable.
#pragma once

#include <gtest/gtest.h>

#include "marlin/device.h"

#define MARLIN_REQUIRE_GPU()                                                              \
  do {                                                                                    \
    if (::marlin::cuda_device_count() == 0) {                                             \
      GTEST_SKIP() << "needs an NVIDIA GPU (compute capability 8.0+): "                   \
                   << ::marlin::cuda_unavailable_reason();                                \
    }                                                                                     \
    if (::marlin::current_device().compute_capability() < 80) {                           \
      GTEST_SKIP() << "needs compute capability 8.0+, found "                             \
                   << ::marlin::current_device().compute_capability();                    \
    }                                                                                     \
  } while (0)
