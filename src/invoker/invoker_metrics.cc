// The invoker's numbers on GET /metrics (docs/operations.md, "Metrics").
#include "invoker/invoker.h"

namespace hotrod {

void Invoker::AppendMetrics(std::string& out) const {
  const PoolCounters& c = pool_.counters();
  AppendMetric(out, "hotrod_pool_warm_starts_total", "counter", "Calls served by an idle warm instance.", c.warm_starts);
  AppendMetric(out, "hotrod_pool_cold_starts_total", "counter", "Instances made for a call.", c.cold_starts);
  AppendMetric(out, "hotrod_pool_stem_cell_starts_total", "counter", "Cold starts that took over a stem cell.",
               c.stem_cell_starts);
  AppendMetric(out, "hotrod_pool_evictions_total", "counter", "Idle instances evicted to make room (LRU).",
               c.evicted_for_room);
  AppendMetric(out, "hotrod_pool_stem_cell_evictions_total", "counter", "Stem cells evicted to make room for a call.",
               c.evicted_stem_cells);
  AppendMetric(out, "hotrod_pool_expired_total", "counter", "Idle instances removed after the keep-alive.", c.expired);
  AppendMetric(out, "hotrod_pool_queued_total", "counter", "Calls that waited for capacity.", c.queued);
  AppendMetric(out, "hotrod_pool_rejected_total", "counter", "Calls refused for lack of capacity (503).", c.rejected);
  AppendMetric(out, "hotrod_pool_freezes_total", "counter", "Idle instances frozen until their next call.",
               c.freezes);
  AppendMetric(out, "hotrod_pool_thaw_failures_total", "counter",
               "Frozen instances discarded because the thaw failed.", c.thaw_failures);
  AppendMetric(out, "hotrod_pool_discarded_at_limit_total", "counter",
               "Instances discarded after a call reached the pids or memory limit.", c.discarded_at_limit);
  AppendMetric(out, "hotrod_cpu_demotions_total", "counter",
               "Runs set to the lowest CPU weight for keeping the CPU busy.", demotion_.counters().demotions);
  AppendMetric(out, "hotrod_cpu_demoted_instances", "gauge", "Instances running at the lowest CPU weight now.",
               demotion_.demoted());
  AppendMetric(out, "hotrod_pool_frozen_instances", "gauge", "Idle instances frozen now.", pool_.frozen_instances());
  AppendMetric(out, "hotrod_pool_instances", "gauge", "Instances held for actions (idle and busy).",
               pool_.total_instances());
  AppendMetric(out, "hotrod_pool_idle_instances", "gauge", "Idle instances held for actions.", pool_.idle_instances());
  AppendMetric(out, "hotrod_pool_stem_cells", "gauge", "Stem cells ready to be taken over.", pool_.ready_stem_cells());
  AppendMetric(out, "hotrod_sandboxes_ready_ahead", "gauge", "Prepared sandboxes that a fresh launch can take now.",
               prepared_sandboxes_ready());
  AppendMetric(out, "hotrod_pool_waiting_calls", "gauge", "Calls waiting for capacity now.", pool_.waiting());
  AppendMetric(out, "hotrod_pool_memory_used_mb", "gauge", "Memory limits of all instances and stem cells together.",
               pool_.used_mb());
  AppendMetric(out, "hotrod_pool_memory_budget_mb", "gauge", "The memory budget.", pool_.options().memory_budget_mb);
}

}  // namespace hotrod
