// Weighing and shrinking activation records for the ActivationLog (activation_log.h).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/clock.h"
#include "store/activation_log.h"

namespace hotrod {
namespace {

// Per-allocation overhead we count for a string or a JSON node: enough to keep a flood of tiny
// records from looking free, without pretending to know the allocator.
constexpr size_t kNodeBytes = 32;

size_t JsonBytes(const json::value& v);

size_t ArrayBytes(const json::array& array) {
  size_t n = kNodeBytes;
  for (const json::value& e : array) n += JsonBytes(e);
  return n;
}

size_t ObjectBytes(const json::object& object) {
  size_t n = kNodeBytes;
  for (const auto& kv : object) n += kNodeBytes + kv.key().size() + JsonBytes(kv.value());
  return n;
}

size_t JsonBytes(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return kNodeBytes + v.get_string().size();
    case json::kind::array:
      return ArrayBytes(v.get_array());
    case json::kind::object:
      return ObjectBytes(v.get_object());
    default:
      return kNodeBytes;
  }
}

}  // namespace

size_t ActivationRecordBytes(const Activation& a) {
  size_t n = sizeof(Activation) + a.activation_id.size() + a.ns.size() + a.name.size() + a.version.size() +
             a.subject.size() + a.cause.size();
  for (const std::string& line : a.logs) n += kNodeBytes + line.size();
  return n + ObjectBytes(a.result) + ArrayBytes(a.annotations);
}

bool TruncateLogs(Activation& a, std::string_view marker, size_t keep_bytes) {
  size_t total = 0;
  for (const std::string& line : a.logs) total += line.size();
  if (total <= keep_bytes) return false;
  // The tail says how the run ended, which is what someone reading a cut log wants most.
  size_t kept = 0;
  size_t first = a.logs.size();
  while (first > 0 && kept + a.logs[first - 1].size() <= keep_bytes) kept += a.logs[--first].size();
  const auto end = std::chrono::system_clock::time_point(std::chrono::milliseconds(a.end_ms));
  std::vector<std::string> logs;
  logs.reserve(1 + a.logs.size() - first);
  logs.push_back(fmt::format("{} stderr: {}", IsoTimestamp(end), marker));
  for (size_t i = first; i < a.logs.size(); ++i) logs.push_back(std::move(a.logs[i]));
  a.logs = std::move(logs);
  return true;
}

uint64_t DefaultMinFreeBytes(uint64_t total_bytes) {
  return std::clamp<uint64_t>(total_bytes / 20, uint64_t{4} << 20, uint64_t{256} << 20);
}

}  // namespace hotrod
