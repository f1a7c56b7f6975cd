// ZygoteKeeper: keeps one Python zygote (sandbox/zygote.h) running for the default Python
// runtime kind, the pool's third source of cold starts next to stem cells and fresh launches
// (docs/runtimes.md "Python zygote").
//
// Contract:
//  - One worker thread starts the zygote and restarts it (after `retry_after`) when it died or
//    misbehaved. It owns every zygote it started: a zygote dies with the thread that launched it
//    (PR_SET_PDEATHSIG), so the thread lives as long as the keeper, and instances forked by a
//    zygote die with it. Destroy the keeper after the pool let go of its instances.
//  - Fork() runs on the invoker's io thread (one caller at a time). It never waits for a zygote
//    to start: without a ready one it fails at once with kUnavailable and the caller falls back
//    to a stem cell or a fresh launch. Any failure leaves nothing running (fail closed).
//  - SetSpec() (runtime update, io thread) replaces the zygote: the old one lives on only as
//    long as instances it forked.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "sandbox/sandbox.h"
#include "sandbox/zygote.h"

namespace hotrod {

class ZygoteKeeper {
 public:
  ZygoteKeeper(Launcher& launcher, std::string kind, SandboxSpec spec, ZygoteOptions options,
               std::chrono::milliseconds retry_after = std::chrono::seconds(5));
  ~ZygoteKeeper();
  ZygoteKeeper(const ZygoteKeeper&) = delete;
  ZygoteKeeper& operator=(const ZygoteKeeper&) = delete;

  // The runtime kind whose cold starts it serves, e.g. "python:3.11".
  std::string kind() const;
  // A sandboxed instance with `limits`' memory, pids, /tmp and file limits (zygote.h).
  Result<std::unique_ptr<SandboxInstance>> Fork(const SandboxSpec& limits);
  void SetSpec(std::string kind, SandboxSpec spec);
  // True while a zygote is up and answering (tests, /metrics).
  bool ready() const;

 private:
  void WorkerLoop();

  Launcher& launcher_;
  const ZygoteOptions options_;
  const std::chrono::milliseconds retry_after_;
  mutable Mutex mu_;
  CondVar cv_;
  std::string kind_ HOTROD_GUARDED_BY(mu_);
  SandboxSpec spec_ HOTROD_GUARDED_BY(mu_);
  uint64_t generation_ HOTROD_GUARDED_BY(mu_) = 0;  // bumped by SetSpec
  std::shared_ptr<Zygote> current_ HOTROD_GUARDED_BY(mu_);
  bool stop_ HOTROD_GUARDED_BY(mu_) = false;
  std::thread worker_;              // last: starts once everything above is initialised
};

}  // namespace hotrod
