// Options of `hotrod serve` (docs/operations.md), parsed by the CLI (cli/serve.cc) and handed to
// Server::Create. A plain value.
#pragma once

#include <cstdint>
#include <string>

namespace hotrod {

struct ServeOptions {
  std::string listen = "127.0.0.1:3233";  // host:port
  std::string data_dir;                   // default: $HOME/.hotrod/data
  std::string store;                      // store/store_url.h; empty: sqlite: (<data_dir>/hotrod.db)
  // The cluster (docs/cluster.md): what this node runs and how it meets the others.
  std::string role = "all";   // all (API, controller and invoker), controller or invoker
  std::string bus;            // empty: in-process (role all only); nats://host:port[,host:port...]
  std::string invoker_id;     // empty: the host name and a hash of the data directory
  int64_t bus_replicas = 1;   // JetStream replicas of the activations stream (3 on 3 NATS nodes)
  std::string runtimes_file;              // empty: the embedded runtime manifest
  std::string api_host;                   // URL functions see as __OW_API_HOST; empty: from listen
  std::string log_level = "info";
  // Namespace limits' server-wide defaults (-1: hotrod's, controller/namespace_limiter.h).
  int64_t limit_concurrent_invocations = -1;
  int64_t limit_invocations_per_minute = -1;
  int64_t limit_fires_per_minute = -1;
  // The instance pool (docs/operations.md).
  int64_t stem_cells = 2;  // pre-started instances per default runtime kind; 0: none
  // Fork Python cold starts from a pre-initialised zygote (docs/runtimes.md).
  bool python_zygote = false;
  int64_t python_zygote_slots = 64;      // instances one zygote may have alive at once
  int64_t sandboxes_ahead = 2;           // sandboxes the launcher prepares ahead of launches; 0: none
  int64_t memory_budget_mb = 0;          // 0: half of the host's MemTotal
  int64_t keep_alive_s = 600;            // idle instances live this long
  int64_t max_queue = 256;               // calls that may wait for capacity; beyond: 503
  int64_t max_per_action = 16;           // instances of one action revision
  int64_t max_per_namespace = 64;        // instances of one namespace
  int64_t instance_stop_grace_ms = 500;  // SIGTERM -> SIGKILL of an instance stopped gracefully
  int64_t freeze_after_ms = 50;          // an instance idle this long is frozen; 0: never
  int64_t cpu_demote_after_ms = 100;     // a CPU-bound run busy this long gets the lowest CPU weight; 0: never
  int64_t runtime_update_window_s = 60;  // after SIGHUP, old runtime instances live at most this long
  int64_t drain_timeout_s = 30;          // SIGTERM: calls in flight may finish this long
  // HTTP connections (docs/operations.md, "Connections").
  int64_t max_connections = 0;              // 0: half of the fd limit (MaxConnectionsFor)
  int64_t max_connections_per_address = 0;  // 0: no per-address cap
  int64_t header_timeout_s = 10;            // a request header must be complete this soon
};

}  // namespace hotrod
