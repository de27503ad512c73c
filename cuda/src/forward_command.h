// `tidepool-engine forward`: one prompt through one model, printing the logits at every prompt position
// and N greedy tokens as JSON. Generation never stops early (no stop ids), so fixtures compare N tokens.
#pragma once

#include <string>
#include <vector>

#include "../backends/backend.h"
#include "json.h"

namespace tidepool {

struct ForwardRequest {
  std::string backend = "cpu";
  BackendOptions backend_options;
  std::string model_dir;
  std::vector<int32_t> tokens;
  int generate = 16;
  int block_tokens = 16;
};

// {"logits": [[vocab floats] per prompt position], "greedy": [generate ids]}; throws EngineError.
Json run_forward(const ForwardRequest& request);

}  // namespace tidepool
