// GET /metrics: the invoker pool's counters and gauges in Prometheus' text format (pool area).
// Unauthenticated like /healthz: it holds numbers only, no names of namespaces or actions.
#pragma once

#include "api/http.h"
#include "api/router.h"

namespace hotrod {

Response HandleMetrics(ApiContext& ctx);

}  // namespace hotrod
