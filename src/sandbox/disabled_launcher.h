// DisabledLauncher: what the server uses when the sandbox cannot be set up (not root, no user
// namespaces, no usable cgroups...). Every launch fails with the reason, so functions never run
// unsandboxed (fail closed) while the rest of the API keeps working.
#pragma once

#include <string>

#include "sandbox/sandbox.h"

namespace hotrod {

class DisabledLauncher final : public Launcher {
 public:
  explicit DisabledLauncher(std::string reason) : reason_(std::move(reason)) {}
  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec&) override {
    return MakeError(ErrorCode::kUnavailable, "functions cannot run on this server: " + reason_);
  }

 private:
  std::string reason_;
};

}  // namespace hotrod
