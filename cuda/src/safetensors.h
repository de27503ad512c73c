// Reads `*.safetensors` in place: an 8-byte little-endian header length, a JSON header mapping names to
// {dtype, shape, data_offsets}, then the raw data. Tensors are views into the mapped file; nothing is
// copied or converted. Every inconsistency is an EngineError("bad_model") naming the file and tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tidepool {

enum class DType { F32, F16, BF16, Other };

const char* dtype_name(DType dtype);
inline size_t dtype_bytes(DType dtype) { return dtype == DType::F32 ? 4 : dtype == DType::Other ? 0 : 2; }

struct TensorView {
  std::string name;
  DType dtype = DType::Other;
  std::string dtype_label;  // as written in the header, e.g. "BF16"
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // inside the mapping; lives as long as the SafetensorsFile
  size_t bytes = 0;

  int64_t numel() const;
  std::string shape_string() const;  // "[64, 128]"
};

// Parses a safetensors image held in memory (`size` bytes at `data`). `label` names it in errors.
std::vector<TensorView> parse_safetensors(const uint8_t* data, size_t size, const std::string& label);

// A mapped file and its tensors. The mapping is read-only and shared with other processes (/dev/shm).
class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }
  size_t size() const { return size_; }
  // Touches every page so the first forward pass does not fault weights in.
  void prefault() const;
  // True while `path` still names the file that was mapped (same device, inode and size): false once the
  // host pool deleted or replaced it, so a kept mapping would serve stale bytes and hold freed memory.
  bool unchanged_on_disk() const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  uint64_t device_ = 0, inode_ = 0;
  std::vector<TensorView> tensors_;
};

}  // namespace tidepool
