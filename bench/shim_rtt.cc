// hotrod_shim_rtt: the round trip of one warm run through a runtime shim, outside the server.
//
//   hotrod_shim_rtt --runtime node|python|echo --shim-dir DIR [--runs N]
//
// Starts the interpreter the way the invoker does (fd 3 a socketpair carrying length-prefixed
// JSON frames, stdout/stderr pipes, a minimal environment), sends one init and then N run
// requests, and times each run from writing the request to reading the reply and both log
// sentinels. "echo" is a forked C++ peer that answers the same frames with no interpreter in
// between: the floor of the protocol on this machine. The server's warm invoke minus this round
// trip is what the server itself spends (see bench/README.md).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "shim_rtt: %s\n", what.c_str());
  std::exit(1);
}

void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n <= 0) Die("write failed");
    s.remove_prefix(static_cast<size_t>(n));
  }
}

void ReadExact(int fd, char* out, size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, out, n);
    if (r <= 0) Die("the runtime closed its end (did it start? check --shim-dir)");
    out += r;
    n -= static_cast<size_t>(r);
  }
}

std::string Frame(std::string_view payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  std::string f{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                static_cast<char>(n)};
  return f.append(payload);
}

std::string ReadFrame(int fd) {
  unsigned char h[4];
  ReadExact(fd, reinterpret_cast<char*>(h), 4);
  std::string body((uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3],
                   '\0');
  ReadExact(fd, body.data(), body.size());
  return body;
}

// The "echo" runtime: answers every frame, with sentinels before each run reply like a shim.
[[noreturn]] void Echo() {
  const std::string reply = Frame(R"({"ok":true,"result":{}})");
  for (;;) {
    unsigned char h[4];
    if (::read(3, h, 4) != 4) ::_exit(0);
    std::string body((uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3],
                     '\0');
    ReadExact(3, body.data(), body.size());
    if (body.find(R"("op":"run")") != std::string::npos) {
      WriteAll(1, kSentinel);
      WriteAll(2, kSentinel);
    }
    WriteAll(3, reply);
  }
}

// Moves fd above the stdio and channel numbers, so dup2 into 0..3 in the child cannot clobber it.
int High(int fd) {
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (moved < 0) Die("fcntl failed");
  ::close(fd);
  return moved;
}

double Percentile(std::vector<double>& v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<size_t>(p / 100 * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string runtime, shim_dir;
  int runs = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--runtime")
      runtime = argv[i + 1];
    else if (flag == "--shim-dir")
      shim_dir = argv[i + 1];
    else if (flag == "--runs")
      runs = std::clamp(std::atoi(argv[i + 1]), 10, 10'000'000);
    else
      Die("unknown option " + std::string(flag));
  }
  if (runtime != "node" && runtime != "python" && runtime != "echo")
    Die("usage: hotrod_shim_rtt --runtime node|python|echo --shim-dir DIR [--runs N]");
  if (runtime != "echo" && shim_dir.empty()) Die("--shim-dir is required (e.g. src/runtimes)");

  // The function: a no-op, written next to nothing else so the run is the shim's own cost.
  char code_dir[] = "/tmp/hotrod-shim-rtt.XXXXXX";
  if (!::mkdtemp(code_dir)) Die("mkdtemp failed");
  const std::string code = std::string(code_dir) + (runtime == "python" ? "/main.py" : "/main.js");
  std::ofstream(code) << (runtime == "python" ? "def main(args):\n    return {}\n"
                                              : "function main() { return {} }\n");

  int sp[2], out[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || ::pipe(out) < 0 || ::pipe(err) < 0)
    Die("socketpair/pipe failed");
  for (int* fd : {&sp[0], &sp[1], &out[0], &out[1], &err[0], &err[1]}) *fd = High(*fd);
  const pid_t pid = ::fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    if (::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0 || ::dup2(sp[1], 3) < 0) ::_exit(127);
    if (runtime == "echo") Echo();
    // The invoker's environment: nothing inherited (pyenv shims and the like slow interpreters).
    const char* env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", nullptr};
    const std::string shim = shim_dir + (runtime == "python" ? "/python/shim.py" : "/node/shim.js");
    if (runtime == "python")
      ::execle("/usr/bin/python3.11", "python3.11", "-S", shim.c_str(), nullptr, env);
    else
      ::execle("/usr/bin/node", "node", shim.c_str(), nullptr, env);
    ::_exit(127);
  }
  for (int fd : {sp[1], out[1], err[1]}) ::close(fd);

  WriteAll(sp[0], Frame(R"({"op":"init","main":"main","binary":false,"code_path":")" + code +
                        R"(","env":{}})"));
  const std::string init = ReadFrame(sp[0]);
  if (init.find(R"("ok":true)") == std::string::npos) Die("init failed: " + init);
  // The same run frame the invoker sends for a call without parameters.
  const std::string request = Frame(
      R"({"op":"run","params":{},"env":{"__OW_ACTIVATION_ID":"0123456789abcdef0123456789abcdef","__OW_DEADLINE":"1795780853562"}})");
  std::vector<double> reply_us, logs_us;
  char sentinel[kSentinel.size()];
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    WriteAll(sp[0], request);
    ReadFrame(sp[0]);
    const auto t1 = Clock::now();
    ReadExact(out[0], sentinel, sizeof sentinel);
    ReadExact(err[0], sentinel, sizeof sentinel);
    const auto t2 = Clock::now();
    if (i < runs / 10) continue;  // the first tenth warms the interpreter's caches and JIT
    reply_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    logs_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
  }
  std::printf(
      "%-7s reply p50 %6.1f us  p99 %7.1f us | with both sentinels p50 %6.1f us  p99 %7.1f us\n",
      runtime.c_str(), Percentile(reply_us, 50), Percentile(reply_us, 99), Percentile(logs_us, 50),
      Percentile(logs_us, 99));
  ::close(sp[0]);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::unlink(code.c_str());
  ::rmdir(code_dir);
  return 0;
}
