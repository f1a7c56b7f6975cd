// NamespaceAdmission: what the invocation path asks of a namespace's limits before it starts an
// activation or fires a trigger (implemented by NamespaceLimiter; tests may use their own).
//
// Contract: on the event-loop thread, like Invocations. AdmitInvocation's slot is held until the
// activation ends (its concurrency count drops when the slot is destroyed). Errors are
// kTooManyRequests (429, OpenWhisk's texts), kNotFound (no such namespace) or the store's.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/result.h"

namespace hotrod {

class NamespaceAdmission {
 public:
  virtual ~NamespaceAdmission() = default;
  // One invocation of an action, paid by namespace `ns` (the caller's).
  virtual Result<std::shared_ptr<void>> AdmitInvocationSlot(const std::string& ns) = 0;
  // One trigger fire of `ns`.
  virtual Status AdmitFire(const std::string& ns) = 0;
  // Instances the actions of `ns` may keep at once (its limit); 0: the invoker's default.
  virtual size_t MaxInstances(const std::string& ns) = 0;
};

// No limits at all (tools and tests that do not exercise throttles).
class Unlimited final : public NamespaceAdmission {
 public:
  Result<std::shared_ptr<void>> AdmitInvocationSlot(const std::string&) override { return std::shared_ptr<void>(); }
  Status AdmitFire(const std::string&) override { return Status::Ok(); }
  size_t MaxInstances(const std::string&) override { return 0; }
};

}  // namespace hotrod
