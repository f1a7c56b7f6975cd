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
#include <unordered_map>
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

  // Concurrency > 1 (docs/runtimes.md "Concurrency"): a line "\x1e<id>\x1f<text>" belongs to
  // the run with that id, if the run is open (OpenTagged .. TakeTagged); each run has its own
  // cap. Every other line, and every line of a run not open, is dropped: it cannot be
  // attributed.
  void set_tagged(bool tagged) { tagged_ = tagged; }
  void OpenTagged(uint64_t id);
  std::vector<std::string> TakeTagged(uint64_t id);

  uint64_t stored_bytes() const { return stored_bytes_; }
  bool truncated() const { return truncated_; }

 private:
  struct Lines {
    std::vector<std::string> lines;
    uint64_t stored_bytes = 0;
    bool truncated = false;
  };
  void AddLine(LogStream stream, std::string_view line);
  void AddCapped(Lines& to, LogStream stream, std::string_view line) const;

  uint64_t cap_bytes_;
  uint64_t stored_bytes_ = 0;
  bool truncated_ = false;
  std::vector<std::string> lines_;
  std::string partial_[2];  // incomplete last line per stream
  bool tagged_ = false;
  std::unordered_map<uint64_t, Lines> open_;  // tagged mode: the runs in flight
};

}  // namespace hotrod
