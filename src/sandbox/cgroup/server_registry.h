// ServerRegistry: which hotrod server owns which cgroup subtree, so that a server starting up can
// remove the subtrees of servers that died without cleaning up (killed, crashed, lost power),
// whatever their data directory.
//
// Each running server writes <dir>/<subtree> holding "<pid> <start time>" (the start time from
// /proc/<pid>/stat), atomically (a temp file renamed into place: a reader never sees half an
// entry), BEFORE it creates the subtree: every subtree a live server has is registered. Sweep()
// removes, for every entry whose owner is gone, that subtree (killing what still runs in it) and
// the entry. The owner is gone when no process has that pid, or the process with that pid started
// at another time (the pid was reused, by another program or another hotrod). Only subtrees with
// an entry are touched: nothing is guessed from directory names, so a live server's subtree is
// never removed (one whose entry cannot be written refuses to start instead).
//
// Contract: not thread-safe (call at start-up and shut-down only). Errors are logged by Sweep()
// and returned by Register().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "sandbox/cgroup/cgroup.h"

namespace hotrod {

class ServerRegistry {
 public:
  // Opens the cgroup manager of a subtree (tests pass one over a fake cgroup tree).
  using ManagerFactory = std::function<Result<std::unique_ptr<CgroupManager>>(const CgroupOptions&)>;

  explicit ServerRegistry(std::string dir, ManagerFactory managers = nullptr);

  // Records this process as the owner of `subtree`.
  Status Register(const std::string& subtree);
  // Removes this process's entry (clean shut-down, after the subtree is gone).
  void Unregister(const std::string& subtree);
  // Removes subtrees (and entries) of dead owners, except `own_subtree`. Returns how many.
  int Sweep(const std::string& own_subtree);

  // "<pid> <start time>" of `pid`, as an entry records it; "" when there is no such process.
  static std::string Identity(pid_t pid);

 private:
  std::string dir_;
  ManagerFactory managers_;
};

}  // namespace hotrod
