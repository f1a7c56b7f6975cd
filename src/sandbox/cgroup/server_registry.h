// ServerRegistry: which hotrod server owns which cgroup subtree, so that a server starting up can
// remove the subtrees of servers that died without cleaning up (killed, crashed, lost power).
//
// Each running server writes <dir>/<subtree> holding "<pid> <start time>" (the start time from
// /proc/<pid>/stat, so a reused pid is not mistaken for the owner). Sweep() removes, for every
// entry whose owner is gone, that subtree (killing what still runs in it) and the entry. Only
// subtrees with an entry are touched: nothing is guessed from directory names.
//
// Contract: not thread-safe (call at start-up and shut-down only). Errors are logged by Sweep()
// and returned by Register().
#pragma once

#include <string>

#include "common/result.h"

namespace hotrod {

class ServerRegistry {
 public:
  explicit ServerRegistry(std::string dir) : dir_(std::move(dir)) {}

  // Records this process as the owner of `subtree`.
  Status Register(const std::string& subtree);
  // Removes this process's entry (clean shut-down, after the subtree is gone).
  void Unregister(const std::string& subtree);
  // Removes subtrees (and entries) of dead owners, except `own_subtree`. Returns how many.
  int Sweep(const std::string& own_subtree);

 private:
  std::string dir_;
};

}  // namespace hotrod
