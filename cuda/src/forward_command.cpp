#include "forward_command.h"

#include <algorithm>

#include "engine_core.h"
#include "errors.h"

namespace tidepool {

Json run_forward(const ForwardRequest& request) {
  if (request.tokens.empty()) throw EngineError("bad_request", "--tokens is empty");
  if (request.generate < 0) throw EngineError("bad_request", "--generate must be >= 0");
  std::unique_ptr<Model> model = load_model_dir(request.model_dir);
  std::unique_ptr<Backend> backend = make_backend(request.backend, request.backend_options);
  const size_t page_bytes = 64 << 10;
  const KvLayout layout = make_kv_layout(model->config, request.block_tokens, page_bytes, backend->kv_element_bytes());
  const int total_tokens = static_cast<int>(request.tokens.size()) + std::max(request.generate, 1);
  const size_t blocks = (total_tokens + request.block_tokens - 1) / request.block_tokens + 1;
  EngineOptions options;
  options.block_tokens = request.block_tokens;
  options.kv_page_bytes = page_bytes;
  options.kv_budget_bytes = blocks * layout.pages_per_block * page_bytes;
  const size_t core = model->weight_bytes + options.kv_budget_bytes;
  options.memory_budget_bytes = core + core / 8 + (size_t(256) << 20);  // leaves room for the scratch share
  options.max_batch_tokens = total_tokens;
  EngineCore engine(std::move(backend), options);
  engine.install_model("forward", std::move(model));

  SequenceSpec spec;
  spec.id = 1;
  spec.model = "forward";
  spec.prompt = request.tokens;
  spec.max_tokens = std::max(request.generate, 1);
  spec.all_logits = true;
  engine.add(spec);
  Json logits = Json::array(), greedy = Json::array();
  bool done = false;
  while (!done) {
    StepResult step = engine.step("forward");
    if (!step.ran && step.done.empty()) throw EngineError("internal", "forward made no progress");
    for (const TokenEvent& t : step.tokens) {
      if (logits.size() == 0 && !t.logits.empty()) {
        const size_t n = request.tokens.size(), v = t.logits.size() / n;
        for (size_t p = 0; p < n; p++) {
          Json row = Json::array();
          for (size_t i = 0; i < v; i++) row.push(static_cast<double>(t.logits[p * v + i]));
          logits.push(std::move(row));
        }
      }
      if (static_cast<int>(greedy.size()) < request.generate) greedy.push(static_cast<int64_t>(t.token));
    }
    for (const DoneEvent& d : step.done) {
      if (d.reason == "error") throw EngineError("internal", d.message);
      done = true;
    }
  }
  Json out = Json::object();
  out.set("logits", std::move(logits));
  out.set("greedy", std::move(greedy));
  return out;
}

}  // namespace tidepool
