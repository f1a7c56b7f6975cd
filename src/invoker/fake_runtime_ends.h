// Test helper: the far ends of a fake sandbox's channels, the ones a runtime would hold. Made on
// construction, with the near ends installed on the sandbox (control socket, stdout and stderr
// pipes), so a fake serves the frame protocol and writes log lines without any process.
// Close() is idempotent; the destructor closes what is still open. One owner.
// ServeFrames() is the runtime's side of the frame protocol (frame.h): it reads each request
// frame from `channel` and hands its body to `answer` until EOF, a read error or `answer`
// returning false. Runs on the caller's thread (fakes run it on their own).
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"
#include "invoker/frame.h"
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

  void ServeFrames(const std::function<bool(std::string_view request)>& answer) const {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(channel, chunk, sizeof chunk);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
      while (buf.size() >= 4) {
        const uint32_t len = DecodeFrameLength(reinterpret_cast<const unsigned char*>(buf.data()));
        if (buf.size() < 4 + len) break;
        const std::string request = buf.substr(4, len);
        buf.erase(0, 4 + len);
        if (!answer(request)) return;
      }
    }
  }
  // Writes one reply frame; false when the channel is gone.
  bool Reply(std::string_view body) const {
    std::string frame;
    AppendFrame(frame, body);
    return ::write(channel, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
  }

  int channel = -1;  // the runtime's fd 3
  int out = -1;      // its stdout
  int err = -1;      // its stderr
};

}  // namespace hotrod
