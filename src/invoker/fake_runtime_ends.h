// Test helper: the far ends of a fake sandbox's channels, the ones a runtime would hold. Made on
// construction, with the near ends installed on the sandbox (control socket, stdout and stderr
// pipes), so a fake serves the frame protocol and writes log lines without any process.
// Close() is idempotent; the destructor closes what is still open. One owner.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "common/result.h"
#include "sandbox/sandbox.h"

namespace hotrod {

struct FakeRuntimeEnds {
  explicit FakeRuntimeEnds(SandboxInstance& sandbox) {
    int sp[2], o[2], e[2];
    HOTROD_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    HOTROD_CHECK(::pipe2(o, O_CLOEXEC) == 0 && ::pipe2(e, O_CLOEXEC) == 0);
    sandbox.control.reset(sp[0]);
    sandbox.stdout_fd.reset(o[0]);
    sandbox.stderr_fd.reset(e[0]);
    channel = sp[1];
    out = o[1];
    err = e[1];
  }
  ~FakeRuntimeEnds() { Close(); }
  FakeRuntimeEnds(const FakeRuntimeEnds&) = delete;
  FakeRuntimeEnds& operator=(const FakeRuntimeEnds&) = delete;

  void Close() {
    for (int* fd : {&channel, &out, &err})
      if (*fd >= 0) ::close(std::exchange(*fd, -1));
  }

  int channel = -1;  // the runtime's fd 3
  int out = -1;      // its stdout
  int err = -1;      // its stderr
};

}  // namespace hotrod
