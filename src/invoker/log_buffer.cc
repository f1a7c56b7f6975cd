#include "invoker/log_buffer.h"

#include <fmt/format.h>

#include "common/clock.h"

namespace hotrod {
namespace {

// A line longer than this is stored in pieces, so one endless line cannot grow `partial_`
// without bound before the cap applies.
constexpr size_t kMaxLineBytes = 64 * 1024;

}  // namespace

int LogBuffer::Feed(LogStream stream, std::string_view bytes) {
  std::string& partial = partial_[static_cast<int>(stream)];
  int sentinels = 0;
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial.append(bytes);
      size_t cut = 0;
      // Keep a sentinel's length in reserve, so a cut never splits one that is still arriving.
      while (partial.size() - cut >= kMaxLineBytes + kActivationSentinel.size()) {
        AddLine(stream, std::string_view(partial).substr(cut, kMaxLineBytes));
        cut += kMaxLineBytes;
      }
      partial.erase(0, cut);
      break;
    }
    std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    if (!partial.empty()) {
      partial.append(line);
      line = partial;
    }
    if (line.size() >= kActivationSentinel.size() &&
        line.substr(line.size() - kActivationSentinel.size()) == kActivationSentinel) {
      // Output without a final newline shares the sentinel's line: keep the text before it.
      ++sentinels;
      if (line.size() > kActivationSentinel.size())
        AddLine(stream, line.substr(0, line.size() - kActivationSentinel.size()));
    } else {
      AddLine(stream, line);
    }
    partial.clear();
  }
  return sentinels;
}

void LogBuffer::FlushPartial(LogStream stream) {
  std::string& partial = partial_[static_cast<int>(stream)];
  if (!partial.empty()) AddLine(stream, partial);
  partial.clear();
}

void LogBuffer::AddLine(LogStream stream, std::string_view line) {
  if (truncated_) return;
  if (stored_bytes_ + line.size() > cap_bytes_) {
    truncated_ = true;
    lines_.push_back(fmt::format("{} stderr: Logs were truncated because the total bytes size exceeds the limit of {} bytes.",
                                 IsoTimestampNow(), cap_bytes_));
    return;
  }
  stored_bytes_ += line.size();
  lines_.push_back(fmt::format("{} {}: {}", IsoTimestampNow(), stream == LogStream::kStdout ? "stdout" : "stderr", line));
}

std::vector<std::string> LogBuffer::Take(uint64_t next_cap_bytes) {
  std::vector<std::string> out = std::move(lines_);
  lines_.clear();
  stored_bytes_ = 0;
  truncated_ = false;
  cap_bytes_ = next_cap_bytes;
  return out;
}

}  // namespace hotrod
