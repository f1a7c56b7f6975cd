// ProcessLauncher: the foundation's Launcher. Each instance is a plain child process in its own
// process group with a minimal environment, rlimits, all other fds closed, and PDEATHSIG so it
// dies with the server. It is not a security boundary (see docs/security.md); the namespace
// sandbox replaces it.
#pragma once

#include "sandbox/sandbox.h"

namespace hotrod {

class ProcessLauncher final : public Launcher {
 public:
  bool isolates_filesystem() const override { return false; }
  Result<std::unique_ptr<SandboxInstance>> Launch(const SandboxSpec& spec) override;
};

}  // namespace hotrod
