// Frames of the runtime protocol (docs/runtimes.md): a 4-byte big-endian length, then that many
// bytes of JSON. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hotrod {

inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

// Appends one frame carrying `payload` to `out`.
void AppendFrame(std::string& out, std::string_view payload);

// Reads the length prefix of a frame from 4 bytes.
uint32_t DecodeFrameLength(const unsigned char header[4]);

}  // namespace hotrod
