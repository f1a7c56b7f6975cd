#include "api/metrics.h"

#include <fmt/format.h>

namespace hotrod {

Response HandleMetrics(ApiContext& ctx) {
  const Invoker& invoker = ctx.invocations.invoker();
  const Pool& pool = invoker.pool();
  const PoolCounters& c = pool.counters();
  std::string text;
  auto metric = [&text](const char* name, const char* type, const char* help, auto value) {
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  metric("hotrod_pool_warm_starts_total", "counter", "Calls served by an idle warm instance.", c.warm_starts);
  metric("hotrod_pool_cold_starts_total", "counter", "Instances made for a call.", c.cold_starts);
  metric("hotrod_pool_stem_cell_starts_total", "counter", "Cold starts that took over a stem cell.", c.stem_cell_starts);
  metric("hotrod_pool_evictions_total", "counter", "Idle instances evicted to make room (LRU).", c.evicted_for_room);
  metric("hotrod_pool_stem_cell_evictions_total", "counter", "Stem cells evicted to make room for a call.",
         c.evicted_stem_cells);
  metric("hotrod_pool_expired_total", "counter", "Idle instances removed after the keep-alive.", c.expired);
  metric("hotrod_pool_queued_total", "counter", "Calls that waited for capacity.", c.queued);
  metric("hotrod_pool_rejected_total", "counter", "Calls refused for lack of capacity (503).", c.rejected);
  metric("hotrod_pool_instances", "gauge", "Instances held for actions (idle and busy).", pool.total_instances());
  metric("hotrod_pool_idle_instances", "gauge", "Idle instances held for actions.", pool.idle_instances());
  metric("hotrod_pool_stem_cells", "gauge", "Stem cells ready to be taken over.", pool.ready_stem_cells());
  metric("hotrod_sandboxes_ready_ahead", "gauge", "Prepared sandboxes that a fresh launch can take now.",
         invoker.prepared_sandboxes_ready());
  metric("hotrod_pool_waiting_calls", "gauge", "Calls waiting for capacity now.", pool.waiting());
  metric("hotrod_pool_memory_used_mb", "gauge", "Memory limits of all instances and stem cells together.",
         pool.used_mb());
  metric("hotrod_pool_memory_budget_mb", "gauge", "The memory budget.", pool.options().memory_budget_mb);
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = std::move(text);
  res.prepare_payload();
  return res;
}

}  // namespace hotrod
