// LogBuffer: turns an instance's stdout/stderr bytes into OpenWhisk log lines for one activation.
//
// Bytes arrive in arbitrary chunks per stream; complete lines become
// "<ISO-8601 time> stdout: <line>". The end-of-activation sentinel line is counted, not stored.
// Once the stored lines exceed the byte cap, one truncation line is added and later lines are
// dropped (their sentinels are still counted). Not thread-safe: owned by one Instance.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hotrod {

inline constexpr std::string_view kActivationSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

enum class LogStream { kStdout = 0, kStderr = 1 };

class LogBuffer {
 public:
  explicit LogBuffer(uint64_t cap_bytes) : cap_bytes_(cap_bytes) {}

  // Feeds bytes read from one stream. Returns how many sentinel lines the chunk completed.
  int Feed(LogStream stream, std::string_view bytes);

  // Flushes a partial last line of a stream (on EOF) as a line of its own.
  void FlushPartial(LogStream stream);

  // Hands over the lines collected so far and starts a new, empty activation log
  // (with the same cap unless `next_cap_bytes` says otherwise).
  std::vector<std::string> Take(uint64_t next_cap_bytes);
  void set_cap(uint64_t cap_bytes) { cap_bytes_ = cap_bytes; }

  uint64_t stored_bytes() const { return stored_bytes_; }
  bool truncated() const { return truncated_; }

 private:
  void AddLine(LogStream stream, std::string_view line);

  uint64_t cap_bytes_;
  uint64_t stored_bytes_ = 0;
  bool truncated_ = false;
  std::vector<std::string> lines_;
  std::string partial_[2];  // incomplete last line per stream
};

}  // namespace hotrod
