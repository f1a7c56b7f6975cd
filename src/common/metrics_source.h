// MetricsSource: a part that reports numbers on GET /metrics, in Prometheus' text exposition
// format (docs/operations.md, "Metrics"). The API serves whatever sources the server registers
// without knowing the parts behind them.
//
// Contract: AppendMetrics is called on the event-loop thread; it appends complete samples with
// their # HELP and # TYPE lines, and names only numbers (never namespaces or actions).
#pragma once

#include <string>

#include <fmt/format.h>

namespace hotrod {

class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual void AppendMetrics(std::string& out) const = 0;
};

// One sample with its help and type lines.
template <class T>
void AppendMetric(std::string& out, std::string_view name, std::string_view type, std::string_view help, T value) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

}  // namespace hotrod
