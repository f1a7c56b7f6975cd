// FakeStore: an in-memory Store for the ActivationLog's tests (activations only; the rest are
// no-ops). It counts batches and can fail, hold, or run out of space on demand. Thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/thread_annotations.h"
#include "store/store.h"

namespace hotrod::testing_util {

class FakeStore final : public Store {
 public:
  Status PutNamespace(const std::string&) override { return Status::Ok(); }
  Result<std::vector<std::string>> ListNamespaces() override { return std::vector<std::string>{}; }
  Status PutCredential(const Credential&) override { return Status::Ok(); }
  Result<std::optional<Credential>> FindCredential(const std::string&) override {
    return std::optional<Credential>();
  }
  Result<std::optional<Action>> GetAction(const std::string&, const std::string&) override {
    return std::optional<Action>();
  }
  Status PutAction(const Action&) override { return Status::Ok(); }
  Result<std::vector<Action>> ListActions(const std::string&, int64_t, int64_t) override {
    return std::vector<Action>{};
  }
  Result<bool> DeleteAction(const std::string&, const std::string&) override { return false; }
  // Packages: unused by the activation log
  Result<std::optional<Package>> GetPackage(const std::string&, const std::string&) override {
    return std::optional<Package>();
  }
  Status PutPackage(const Package&) override { return Status::Ok(); }
  Result<std::vector<Package>> ListPackages(const std::string&, bool, int64_t, int64_t) override {
    return std::vector<Package>{};
  }
  Result<bool> DeletePackage(const std::string&, const std::string&) override { return false; }
  Result<std::vector<Action>> ListPackageActions(const std::string&, const std::string&) override {
    return std::vector<Action>{};
  }

  Status PutActivations(const std::vector<Activation>& batch) override {
    MutexLock lock(&mu_);
    ++calls_;
    entered_cv_.SignalAll();
    while (hold_) release_cv_.Wait(&mu_);
    if (fail_remaining_ > 0 || fail_always_) {
      if (fail_remaining_ > 0) --fail_remaining_;
      ++failed_calls_;
      return MakeError(ErrorCode::kUnavailable, "disk on fire");
    }
    size_t bytes = 0;
    for (const Activation& a : batch) bytes += LogBytes(a);
    if (bytes > space_) {
      ++failed_calls_;
      return MakeError(ErrorCode::kNoSpace, std::string(kNoSpaceMessage), "fake disk full");
    }
    space_ -= bytes;
    batch_sizes_.push_back(batch.size());
    for (const Activation& a : batch) rows_[a.activation_id] = a;
    written_cv_.SignalAll();
    return Status::Ok();
  }
  Result<std::optional<Activation>> GetActivation(const std::string& ns,
                                                  const std::string& id) override {
    MutexLock lock(&mu_);
    auto it = rows_.find(id);
    if (it == rows_.end() || it->second.ns != ns) return std::optional<Activation>();
    return std::optional<Activation>(it->second);
  }
  Result<std::vector<Activation>> ListActivations(const ActivationQuery& q) override {
    MutexLock lock(&mu_);
    std::vector<Activation> out;
    for (const auto& [id, a] : rows_) {
      if (a.ns != q.ns || (q.name && a.name != *q.name)) continue;
      if ((q.since_ms && a.start_ms < *q.since_ms) || (q.upto_ms && a.start_ms > *q.upto_ms))
        continue;
      out.push_back(a);
    }
    std::sort(out.begin(), out.end(), [](const Activation& a, const Activation& b) {
      return a.start_ms != b.start_ms ? a.start_ms > b.start_ms : a.activation_id > b.activation_id;
    });
    out.erase(out.begin(), out.begin() + std::min<size_t>(out.size(), q.skip));
    if (q.limit > 0 && out.size() > static_cast<size_t>(q.limit)) out.resize(q.limit);
    return out;
  }

  // Room for this many bytes of log lines (written records use it up); unlimited by default.
  void SetSpace(size_t bytes) {
    MutexLock lock(&mu_);
    space_ = bytes;
  }
  static size_t LogBytes(const Activation& a) {
    size_t n = 0;
    for (const std::string& line : a.logs) n += line.size();
    return n;
  }
  std::optional<Activation> row(const std::string& id) {
    MutexLock lock(&mu_);
    auto it = rows_.find(id);
    return it == rows_.end() ? std::nullopt : std::optional<Activation>(it->second);
  }

  void FailNext(int n) {
    MutexLock lock(&mu_);
    fail_remaining_ = n;
  }
  void FailAlways(bool fail) {
    MutexLock lock(&mu_);
    fail_always_ = fail;
  }
  void Hold(bool hold) {
    MutexLock lock(&mu_);
    hold_ = hold;
    release_cv_.SignalAll();
  }
  void WaitForCalls(int n) {
    MutexLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (calls_ < n && entered_cv_.WaitUntil(&mu_, deadline)) {
    }
    ASSERT_GE(calls_, n);
  }
  bool WaitForRows(size_t n) {
    MutexLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (rows_.size() < n && written_cv_.WaitUntil(&mu_, deadline)) {
    }
    return rows_.size() >= n;
  }
  size_t rows() {
    MutexLock lock(&mu_);
    return rows_.size();
  }
  bool has(const std::string& id) {
    MutexLock lock(&mu_);
    return rows_.contains(id);
  }
  int calls() {
    MutexLock lock(&mu_);
    return calls_;
  }
  int failed_calls() {
    MutexLock lock(&mu_);
    return failed_calls_;
  }
  std::vector<size_t> batch_sizes() {
    MutexLock lock(&mu_);
    return batch_sizes_;
  }

 private:
  Mutex mu_;
  CondVar entered_cv_, release_cv_, written_cv_;
  std::map<std::string, Activation> rows_ HOTROD_GUARDED_BY(mu_);
  std::vector<size_t> batch_sizes_ HOTROD_GUARDED_BY(mu_);
  int calls_ HOTROD_GUARDED_BY(mu_) = 0;
  int failed_calls_ HOTROD_GUARDED_BY(mu_) = 0;
  int fail_remaining_ HOTROD_GUARDED_BY(mu_) = 0;
  bool fail_always_ HOTROD_GUARDED_BY(mu_) = false;
  bool hold_ HOTROD_GUARDED_BY(mu_) = false;
  size_t space_ HOTROD_GUARDED_BY(mu_) = std::numeric_limits<size_t>::max();
};

}  // namespace hotrod::testing_util
