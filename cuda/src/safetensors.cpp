#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "errors.h"
#include "json.h"
#include "model_limits.h"

namespace tidepool {

namespace {

[[noreturn]] void bad(const std::string& label, const std::string& what) {
  throw EngineError("bad_model", label + ": " + what);
}

struct DTypeInfo {
  const char* label;
  DType dtype;
  size_t bytes;
};

constexpr DTypeInfo kDTypes[] = {
    {"F32", DType::F32, 4},   {"F16", DType::F16, 2},    {"BF16", DType::BF16, 2},     {"F64", DType::Other, 8},
    {"I64", DType::Other, 8}, {"I32", DType::Other, 4},  {"I16", DType::Other, 2},     {"I8", DType::Other, 1},
    {"U8", DType::Other, 1},  {"BOOL", DType::Other, 1}, {"F8_E4M3", DType::Other, 1}, {"F8_E5M2", DType::Other, 1},
};

TensorView parse_entry(const std::string& name, const Json& entry, const uint8_t* base, size_t data_size,
                       const std::string& label) {
  const std::string where = "tensor " + name;
  if (!entry.is_object()) bad(label, where + ": header entry is not an object");
  const Json* dtype = entry.find("dtype");
  const Json* shape = entry.find("shape");
  const Json* offsets = entry.find("data_offsets");
  if (!dtype || !dtype->is_string()) bad(label, where + ": missing dtype");
  if (!shape || !shape->is_array()) bad(label, where + ": missing shape");
  if (!offsets || !offsets->is_array() || offsets->size() != 2) bad(label, where + ": missing data_offsets");
  TensorView t;
  t.name = name;
  t.dtype_label = dtype->as_string();
  size_t elem = 0;
  for (const auto& info : kDTypes)
    if (t.dtype_label == info.label) {
      t.dtype = info.dtype;
      elem = info.bytes;
    }
  if (elem == 0) bad(label, where + ": unknown dtype " + t.dtype_label);
  constexpr uint64_t kMaxElements = static_cast<uint64_t>(limits::safetensors_tensor_elements);
  if (static_cast<int64_t>(shape->size()) > limits::safetensors_rank)
    bad(label, where + ": rank " + std::to_string(shape->size()) + " exceeds the limit of " +
                   std::to_string(limits::safetensors_rank));
  uint64_t numel = 1;
  for (const Json& d : shape->as_array()) {
    if (!d.is_int() || d.as_int() < 0 || d.as_int() > int64_t(kMaxElements)) bad(label, where + ": bad shape");
    const uint64_t dim = static_cast<uint64_t>(d.as_int());
    // Checked before multiplying: [2^32, 2^32] would wrap to 0 elements and pass with empty data_offsets.
    if (dim != 0 && numel > kMaxElements / dim) bad(label, where + ": shape too large");
    t.shape.push_back(d.as_int());
    numel *= dim;
  }
  const Json& b = offsets->as_array()[0];
  const Json& e = offsets->as_array()[1];
  if (!b.is_int() || !e.is_int() || b.as_int() < 0 || e.as_int() < b.as_int()) bad(label, where + ": bad data_offsets");
  uint64_t begin = static_cast<uint64_t>(b.as_int()), end = static_cast<uint64_t>(e.as_int());
  if (end > data_size)
    bad(label, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "] out of range (file truncated? data section has " + std::to_string(data_size) + " bytes)");
  if (end - begin != numel * elem)
    bad(label, where + ": " + std::to_string(end - begin) + " bytes do not match dtype " + t.dtype_label +
                   " and shape " + t.shape_string());
  t.data = base + begin;
  t.bytes = end - begin;
  return t;
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    default:
      return "other";
  }
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<TensorView> parse_safetensors(const uint8_t* data, size_t size, const std::string& label) {
  if (size < 8) bad(label, "truncated header (file has " + std::to_string(size) + " bytes)");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; i++) header_len |= static_cast<uint64_t>(data[i]) << (8 * i);
  if (header_len > static_cast<uint64_t>(limits::safetensors_header_bytes))
    bad(label, "header length " + std::to_string(header_len) + " exceeds the limit of " +
                   std::to_string(limits::safetensors_header_bytes));
  if (header_len > size - 8) bad(label, "truncated header (header length " + std::to_string(header_len) + ")");
  Json header;
  try {
    header = Json::parse(reinterpret_cast<const char*>(data + 8), header_len);
  } catch (const JsonError& e) {
    bad(label, std::string("header: ") + e.what());
  }
  if (!header.is_object()) bad(label, "header is not a JSON object");
  const int64_t tensors = static_cast<int64_t>(header.size()) - (header.find("__metadata__") ? 1 : 0);
  if (tensors > limits::safetensors_tensors)
    bad(label, std::to_string(tensors) + " tensors exceed the limit of " + std::to_string(limits::safetensors_tensors));
  const uint8_t* base = data + 8 + header_len;
  size_t data_size = size - 8 - header_len;
  std::vector<TensorView> out;
  for (const auto& kv : header.as_object()) {
    if (kv.first == "__metadata__") continue;
    out.push_back(parse_entry(kv.first, kv.second, base, data_size, label));
  }
  return out;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw EngineError("bad_model", path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw EngineError("bad_model", path + ": cannot stat");
  }
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  f->device_ = static_cast<uint64_t>(st.st_dev);
  f->inode_ = static_cast<uint64_t>(st.st_ino);
  if (f->size_ > 0) {
    f->map_ = ::mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd, 0);
    if (f->map_ == MAP_FAILED) {
      f->map_ = nullptr;
      ::close(fd);
      throw EngineError("bad_model", path + ": mmap failed (" + std::strerror(errno) + ")");
    }
  }
  ::close(fd);
  f->tensors_ = parse_safetensors(static_cast<const uint8_t*>(f->map_), f->size_, path);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

bool SafetensorsFile::unchanged_on_disk() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == device_ && static_cast<uint64_t>(st.st_ino) == inode_ &&
         static_cast<size_t>(st.st_size) == size_;
}

void SafetensorsFile::prefault() const {
  if (!map_) return;
  ::madvise(map_, size_, MADV_WILLNEED);
  volatile uint8_t sink = 0;
  const uint8_t* p = static_cast<const uint8_t*>(map_);
  for (size_t off = 0; off < size_; off += 4096) sink ^= p[off];
  (void)sink;
}

}  // namespace tidepool
