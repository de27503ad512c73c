// Frames on the engine socket: 4-byte little-endian payload length N (1 <= N <= 64 MiB), then N bytes of
// one UTF-8 JSON object. Both functions block; they return false on EOF, I/O error or a bad length.
#pragma once

#include <cstddef>
#include <string>

namespace tidepool {

constexpr size_t kMaxFrameBytes = 64u << 20;

bool read_frame(int fd, std::string& payload);
bool write_frame(int fd, const std::string& payload);

}  // namespace tidepool
