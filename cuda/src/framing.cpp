#include "framing.h"

#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstdint>

namespace tidepool {

static bool read_all(int fd, char* dst, size_t n) {
  while (n > 0) {
    ssize_t got = ::read(fd, dst, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    dst += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

static bool write_all(int fd, const char* src, size_t n) {
  while (n > 0) {
    ssize_t put = ::send(fd, src, n, MSG_NOSIGNAL);
    if (put < 0 && errno == ENOTSOCK) put = ::write(fd, src, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    src += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

bool read_frame(int fd, std::string& payload) {
  unsigned char header[4];
  if (!read_all(fd, reinterpret_cast<char*>(header), 4)) return false;
  uint32_t n = header[0] | (header[1] << 8) | (header[2] << 16) | (static_cast<uint32_t>(header[3]) << 24);
  if (n == 0 || n > kMaxFrameBytes) return false;
  payload.resize(n);
  return read_all(fd, payload.data(), n);
}

bool write_frame(int fd, const std::string& payload) {
  if (payload.empty() || payload.size() > kMaxFrameBytes) return false;
  uint32_t n = static_cast<uint32_t>(payload.size());
  std::string frame;
  frame.reserve(4 + n);
  for (int i = 0; i < 4; i++) frame += static_cast<char>((n >> (8 * i)) & 0xFF);
  frame += payload;
  return write_all(fd, frame.data(), frame.size());
}

}  // namespace tidepool
