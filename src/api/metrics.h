// GET /metrics: the numbers of every MetricsSource the server registered (the invoker pool's
// counters and gauges), in Prometheus' text format.
// Unauthenticated like /healthz: it holds numbers only, no names of namespaces or actions.
#pragma once

#include "api/http.h"
#include "api/router.h"

namespace hotrod {

Response HandleMetrics(ApiContext& ctx);

}  // namespace hotrod
