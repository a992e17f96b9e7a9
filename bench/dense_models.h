// The layer shapes the dense benchmark measures: the linear layers of one transformer block, with
// q/k/v and gate/up fused as inference engines run them (k = input features, n = output features).
#pragma once

#include <string>
#include <vector>

namespace marlin::bench {

struct LayerShape {
  std::string name;
  int k = 0;
  int n = 0;
};

struct ModelShapes {
  std::string name;
  std::vector<LayerShape> layers;
};

inline std::vector<ModelShapes> dense_models() {
  return {
      {"llama-2-7b",  // hidden 4096, 32 heads, MLP 11008
       {{"qkv_proj", 4096, 12288}, {"o_proj", 4096, 4096}, {"gate_up_proj", 4096, 22016},
        {"down_proj", 11008, 4096}}},
      {"llama-3-8b",  // hidden 4096, 32 query + 8 kv heads of 128, MLP 14336
       {{"qkv_proj", 4096, 6144}, {"o_proj", 4096, 4096}, {"gate_up_proj", 4096, 28672},
        {"down_proj", 14336, 4096}}},
      {"llama-2-70b",  // hidden 8192, 64 query + 8 kv heads of 128, MLP 28672
       {{"qkv_proj", 8192, 10240}, {"o_proj", 8192, 8192}, {"gate_up_proj", 8192, 57344},
        {"down_proj", 28672, 8192}}},
      {"large", {{"matrix", 8192, 32768}}},  // one large matrix: the bandwidth-bound ideal
  };
}

}  // namespace marlin::bench
