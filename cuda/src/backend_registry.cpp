// Backend construction, the KV page layout shared by every backend, and the defaults of optional entry points.
#include "../backends/backend.h"

#include "errors.h"
#include "model_config.h"

namespace tidepool {

KvLayout make_kv_layout(const ModelConfig& config, int block_tokens, size_t page_bytes, size_t kv_elem_bytes) {
  KvLayout l;
  l.layers = config.num_layers;
  l.kv_dim = config.kv_dim();
  l.block_tokens = block_tokens;
  l.row_bytes = static_cast<size_t>(l.kv_dim) * kv_elem_bytes;
  l.page_bytes = page_bytes;
  if (l.row_bytes > page_bytes)
    throw EngineError("unsupported", "one KV row (" + std::to_string(l.row_bytes) + " bytes) exceeds a KV page (" +
                                         std::to_string(page_bytes) + " bytes)");
  l.rows_per_page = static_cast<int>(page_bytes / l.row_bytes);
  const int rows_per_block = l.layers * 2 * block_tokens;
  l.pages_per_block = (rows_per_block + l.rows_per_page - 1) / l.rows_per_page;
  return l;
}

void Backend::forward_prepared(int slot, const std::vector<BatchEntry>& batch, const std::vector<RowSampling>& rows,
                               std::vector<RowCandidates>& out) {
  (void)slot, (void)batch, (void)rows, (void)out;
  throw EngineError("internal", "backend " + name() + " does not prepare sampling on its device");
}

void Backend::fetch_row(int row, float* raw, float* processed) {
  (void)row, (void)raw, (void)processed;
  throw EngineError("internal", "backend " + name() + " keeps no logit rows");
}

std::vector<std::string> built_backends() {
#ifdef TIDEPOOL_HAVE_CUDA
  return {"cuda", "cpu"};
#else
  return {"cpu"};
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
  if (name == "cpu") return make_cpu_backend(options);
#ifdef TIDEPOOL_HAVE_CUDA
  if (name == "cuda") return make_cuda_backend(options);
#endif
  throw EngineError("unsupported", "backend " + name + " is not built into this engine");
}

}  // namespace tidepool
