// CgroupFreezer: the ticket protocol shared by both versions, and the v1/v2 files behind it.
#include <fmt/format.h>

#include <charconv>
#include <utility>

#include "sandbox/cgroup/cgroup.h"
#include "sandbox/cgroup/cgroup_fs.h"
#include "sandbox/cgroup/cgroup_internal.h"

namespace hotrod {
namespace {

Error Cancelled() {
  return MakeError(ErrorCode::kConflict, "freeze cancelled: the instance was thawed or closed since");
}

std::string_view TrimEnd(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

// The control file is opened when the freezer is made (with the instance) and held, so that a
// thaw works while the server is out of descriptors. If it could not be opened then, each write
// opens it by path.
std::unique_ptr<CgroupControlFile> OpenHeld(CgroupFs& fs, const std::string& path) {
  auto file = fs.OpenControl(path);
  return file.ok() ? std::move(*file) : nullptr;
}

Status WriteHeld(CgroupFs& fs, CgroupControlFile* held, const std::string& path, std::string_view value) {
  return held ? held->Write(value) : fs.Write(path, value);
}

// v1: one state file, written and read. It has no change notification, so the wait polls
// (CgroupFs::WaitUntil's backoff, up to 5 ms between reads).
class V1Freezer final : public CgroupFreezer {
 public:
  V1Freezer(std::shared_ptr<CgroupFs> fs, const std::string& dir)
      : fs_(std::move(fs)), state_(JoinCgroupPath(dir, "freezer.state")), control_(OpenHeld(*fs_, state_)) {}

 protected:
  Status WriteControl(bool freeze) override { return WriteHeld(*fs_, control_.get(), state_, freeze ? "FROZEN" : "THAWED"); }
  Status WaitFrozen(const std::function<bool()>& stop, std::chrono::milliseconds timeout) override {
    bool stopped = false;
    HOTROD_RETURN_IF_ERROR(fs_->WaitUntil(
        state_,
        [&](std::string_view state) {
          stopped = stop();
          return stopped || TrimEnd(state) == "FROZEN";
        },
        timeout));
    return stopped ? Status(Cancelled()) : Status::Ok();
  }

 private:
  const std::shared_ptr<CgroupFs> fs_;
  const std::string state_;
  const std::unique_ptr<CgroupControlFile> control_;  // null if it could not be opened
};

// v2: write cgroup.freeze, wait for "frozen 1" in cgroup.events (kernfs notifies its changes).
class V2Freezer final : public CgroupFreezer {
 public:
  V2Freezer(std::shared_ptr<CgroupFs> fs, const std::string& dir)
      : fs_(std::move(fs)),
        control_path_(JoinCgroupPath(dir, "cgroup.freeze")),
        events_(JoinCgroupPath(dir, "cgroup.events")),
        control_(OpenHeld(*fs_, control_path_)) {}

 protected:
  Status WriteControl(bool freeze) override { return WriteHeld(*fs_, control_.get(), control_path_, freeze ? "1" : "0"); }
  Status WaitFrozen(const std::function<bool()>& stop, std::chrono::milliseconds timeout) override {
    bool stopped = false;
    HOTROD_RETURN_IF_ERROR(fs_->WaitUntil(
        events_,
        [&](std::string_view events) {
          stopped = stop();
          return stopped || FlatKeyValue(events, "frozen") == 1;
        },
        timeout));
    return stopped ? Status(Cancelled()) : Status::Ok();
  }

 private:
  const std::shared_ptr<CgroupFs> fs_;
  const std::string control_path_;
  const std::string events_;
  const std::unique_ptr<CgroupControlFile> control_;  // null if it could not be opened
};

int64_t ParseCount(std::string_view s) {
  s = TrimEnd(s);
  int64_t v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() ? v : -1;
}

}  // namespace

Status CgroupFreezer::Freeze(uint64_t ticket, std::chrono::milliseconds timeout) {
  {
    MutexLock lock(&mu_);
    if (closed_ || thaws_.load() != ticket) return Cancelled();
    // Under the lock: a Thaw() is either before this write (then the ticket is stale and
    // nothing is written) or after it (then it undoes it). Never a freeze after its thaw.
    if (Status w = WriteControl(true); !w.ok()) {
      failed_ = w;
      return w;
    }
    frozen_ = true;
  }
  return WaitFrozen([this, ticket] { return closing_.load() || thaws_.load() != ticket; }, timeout);
}

Status CgroupFreezer::Thaw() {
  MutexLock lock(&mu_);
  thaws_.fetch_add(1);
  const Status failed = std::exchange(failed_, Status::Ok());
  if (!frozen_ && failed.ok()) return Status::Ok();  // no freeze reached the kernel: nothing to undo
  // A failed thaw leaves frozen_ set, so that Close() (the kill that follows) tries again.
  HOTROD_RETURN_IF_ERROR(WriteControl(false));
  frozen_ = false;
  if (!failed.ok()) {
    return MakeError(failed.error().code,
                     fmt::format("an earlier freeze failed, the instance may have run between calls: {}",
                                 failed.error().message));
  }
  return Status::Ok();
}

Status CgroupFreezer::Close() {
  closing_.store(true);  // ends a Freeze() waiting, without taking the lock
  MutexLock lock(&mu_);
  closed_ = true;
  if (!frozen_) return Status::Ok();
  frozen_ = false;
  return WriteControl(false);
}

bool CgroupFreezer::frozen() const {
  MutexLock lock(&mu_);
  return frozen_;
}

std::shared_ptr<CgroupFreezer> MakeV1Freezer(std::shared_ptr<CgroupFs> fs, const std::string& freezer_dir) {
  return std::make_shared<V1Freezer>(std::move(fs), freezer_dir);
}

std::shared_ptr<CgroupFreezer> MakeV2Freezer(std::shared_ptr<CgroupFs> fs, const std::string& dir) {
  return std::make_shared<V2Freezer>(std::move(fs), dir);
}

bool PidsLimitHitIn(CgroupFs& fs, const std::string& dir, HeldCgroupFile& events_file) {
  if (dir.empty()) return false;
  // "max N": forks refused at pids.max since the cgroup was made (v1 and v2 since Linux 4.3).
  if (auto events = events_file.Read(fs); events.ok()) {
    const int64_t refused = FlatKeyValue(*events, "max");
    if (refused >= 0) return refused > 0;
  }
  auto current = fs.Read(JoinCgroupPath(dir, "pids.current"));
  auto max = fs.Read(JoinCgroupPath(dir, "pids.max"));
  if (!current.ok() || !max.ok()) return false;
  const int64_t limit = ParseCount(*max);  // -1 for "max": no limit
  return limit > 0 && ParseCount(*current) >= limit;
}

}  // namespace hotrod
