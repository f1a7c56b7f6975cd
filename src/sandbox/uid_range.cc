#include "sandbox/uid_range.h"

#include <fmt/format.h>

#include <limits>

namespace hotrod {

UidLease::UidLease(UidLease&& other) noexcept : range_(std::move(other.range_)), uid_(other.uid_) {}

UidLease& UidLease::operator=(UidLease&& other) noexcept {
  if (this != &other) {
    Release();
    range_ = std::move(other.range_);
    uid_ = other.uid_;
  }
  return *this;
}

UidLease::~UidLease() { Release(); }

void UidLease::Release() {
  if (range_) {
    range_->Release(uid_);
    range_.reset();
  }
}

Result<std::shared_ptr<UidRange>> UidRange::Create(uid_t first, uint32_t count) {
  if (first == 0) return MakeError(ErrorCode::kInvalidArgument, "uid range must not include host root (uid 0)");
  if (count == 0) return MakeError(ErrorCode::kInvalidArgument, "uid range is empty");
  // (uid_t)-1 is the kernel's "no id"; the range must end below it.
  const uint64_t end = static_cast<uint64_t>(first) + count;
  if (end > std::numeric_limits<uint32_t>::max())
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("uid range {}+{} overflows 32 bits", first, count));
  return std::shared_ptr<UidRange>(new UidRange(first, count));
}

Result<UidLease> UidRange::Acquire() {
  MutexLock lock(&mu_);
  if (in_use_ == count_)
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("all {} sandbox uids from {} are in use", count_, first_));
  for (uint32_t n = 0; n < count_; ++n) {
    const uint32_t i = (next_ + n) % count_;
    if (!used_[i]) {
      used_[i] = true;
      ++in_use_;
      next_ = (i + 1) % count_;
      return UidLease(shared_from_this(), first_ + i);
    }
  }
  HOTROD_CHECK(false && "in_use_ disagrees with used_");
  return MakeError(ErrorCode::kInternal, "unreachable");
}

uint32_t UidRange::in_use() const {
  MutexLock lock(&mu_);
  return in_use_;
}

void UidRange::Release(uid_t uid) {
  MutexLock lock(&mu_);
  HOTROD_CHECK(uid >= first_ && uid - first_ < count_);
  const uint32_t i = uid - first_;
  HOTROD_CHECK(used_[i]);
  used_[i] = false;
  --in_use_;
}

void UidLease::Retire() { range_.reset(); }

}  // namespace hotrod
