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

void LogBuffer::OpenTagged(uint64_t id) { open_[id]; }

std::vector<std::string> LogBuffer::TakeTagged(uint64_t id) {
  auto it = open_.find(id);
  if (it == open_.end()) return {};
  std::vector<std::string> out = std::move(it->second.lines);
  open_.erase(it);
  return out;
}

void LogBuffer::AddCapped(Lines& to, LogStream stream, std::string_view line) const {
  if (to.truncated) return;
  if (to.stored_bytes + line.size() > cap_bytes_) {
    to.truncated = true;
    to.lines.push_back(fmt::format("{} stderr: Logs were truncated because the total bytes size exceeds the limit of {} bytes.",
                                   IsoTimestampNow(), cap_bytes_));
    return;
  }
  to.stored_bytes += line.size();
  to.lines.push_back(fmt::format("{} {}: {}", IsoTimestampNow(), stream == LogStream::kStdout ? "stdout" : "stderr", line));
}

void LogBuffer::AddLine(LogStream stream, std::string_view line) {
  if (tagged_) {
    // "\x1e<id>\x1f<text>": the shim's console wrapper under concurrency > 1.
    if (line.size() < 3 || line[0] != '\x1e') return;
    const auto sep = line.find('\x1f');
    if (sep == std::string_view::npos || sep < 2) return;
    uint64_t id = 0;
    for (size_t i = 1; i < sep; ++i) {
      if (line[i] < '0' || line[i] > '9') return;
      id = id * 10 + static_cast<uint64_t>(line[i] - '0');
    }
    auto it = open_.find(id);
    if (it != open_.end()) AddCapped(it->second, stream, line.substr(sep + 1));
    return;
  }
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
