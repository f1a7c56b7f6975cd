#include "api/metrics.h"

namespace hotrod {

Response HandleMetrics(ApiContext& ctx) {
  std::string text;
  for (const MetricsSource* source : ctx.metrics) source->AppendMetrics(text);
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = std::move(text);
  res.prepare_payload();
  return res;
}

}  // namespace hotrod
