// UidRange: the block of host uids (and gids of the same number) that sandbox instances run as.
// Each instance's root is mapped to one host uid from the range that no other live instance
// holds, so an instance that escapes its namespaces is an unprivileged stranger on the host and
// to every other instance.
//
// Contract:
//  - Acquire() hands out a uid no live lease holds, or kUnavailable when all are taken.
//    Allocation is next-fit from where the last one ended, so a released uid is reused as late
//    as possible (whatever an instance left behind is least likely to meet its successor).
//  - A UidLease returns its uid when destroyed; leases may outlive every other reference to the
//    range (they keep it alive).
//  - Thread-safe: Acquire and lease destruction may happen on any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "common/thread_annotations.h"

namespace hotrod {

class UidRange;

class UidLease {
 public:
  UidLease() = default;
  UidLease(UidLease&& other) noexcept;
  UidLease& operator=(UidLease&& other) noexcept;
  UidLease(const UidLease&) = delete;
  UidLease& operator=(const UidLease&) = delete;
  ~UidLease();

  bool valid() const { return range_ != nullptr; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return static_cast<gid_t>(uid_); }  // same number: one id per instance
  // Gives the uid back now (idempotent).
  void Release();
  // Drops the lease without giving the uid back: it stays taken for the range's lifetime. For a
  // uid that processes which could not be killed may still run as.
  void Retire();

 private:
  friend class UidRange;
  UidLease(std::shared_ptr<UidRange> range, uid_t uid) : range_(std::move(range)), uid_(uid) {}
  std::shared_ptr<UidRange> range_;
  uid_t uid_ = 0;
};

class UidRange : public std::enable_shared_from_this<UidRange> {
 public:
  // [first, first + count). first must be > 0 (never host root) and the range must fit in 32 bits
  // below the kernel's invalid id (uint32 max).
  static Result<std::shared_ptr<UidRange>> Create(uid_t first, uint32_t count);

  Result<UidLease> Acquire();

  uid_t first() const { return first_; }
  uint32_t count() const { return count_; }
  uint32_t in_use() const;

 private:
  friend class UidLease;
  UidRange(uid_t first, uint32_t count) : first_(first), count_(count), used_(count, false) {}
  void Release(uid_t uid);

  const uid_t first_;
  const uint32_t count_;
  mutable Mutex mu_;
  std::vector<bool> used_ HOTROD_GUARDED_BY(mu_);
  uint32_t next_ HOTROD_GUARDED_BY(mu_) = 0;  // where the next search starts
  uint32_t in_use_ HOTROD_GUARDED_BY(mu_) = 0;
};

}  // namespace hotrod
