// A real nats-server (Debian package nats-server) for tests: started as a child with JetStream
// on a free loopback port and a store directory of its own, stopped by pid.
// Thread-safety: none; one test thread.
#pragma once

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"

namespace hotrod {

class NatsServerProcess {
 public:
  // Finds the binary ($HOTROD_NATS_SERVER, PATH, /usr/sbin, /usr/bin) and starts it in a new
  // temporary store directory. An error names the package when the binary is missing.
  static Result<NatsServerProcess> Start();
  NatsServerProcess(NatsServerProcess&& other) noexcept;
  NatsServerProcess& operator=(NatsServerProcess&&) = delete;
  ~NatsServerProcess();  // kills it and removes the store directory

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // SIGKILL, no clean shutdown: what the disk holds is all that survives.
  void Kill();
  // Starts it again on the same port and store directory, after Kill().
  Status Restart();

 private:
  NatsServerProcess(std::string binary, std::string dir, int port)
      : binary_(binary), dir_(dir), port_(port) {}
  Status Launch();

  std::string binary_;
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
  int launches_ = 0;
};

namespace nats_server_test_util {  // details of NatsServerProcess

inline std::string FindBinary() {
  // An override that is not an executable counts as missing (and says so).
  if (const char* env = std::getenv("HOTROD_NATS_SERVER"); env && *env)
    return ::access(env, X_OK) == 0 ? std::string(env) : std::string();
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) dirs.push_back(dir);
  }
  dirs.push_back("/usr/sbin");
  dirs.push_back("/usr/bin");
  for (const auto& dir : dirs) {
    std::string candidate = dir + "/nats-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

inline Result<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return MakeError(ErrorCode::kInternal, "bind to a free port failed");
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace nats_server_test_util

inline Result<NatsServerProcess> NatsServerProcess::Start() {
  std::string binary = nats_server_test_util::FindBinary();
  if (binary.empty())
    return MakeError(ErrorCode::kNotFound,
                     "nats-server not found ($HOTROD_NATS_SERVER, PATH, /usr/sbin, /usr/bin): "
                     "install the Debian package nats-server "
                     "(`make deps` does)");
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "hotrod-nats-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr)
    return MakeError(ErrorCode::kInternal, "mkdtemp failed");
  auto port = nats_server_test_util::FreePort();
  HOTROD_RETURN_IF_ERROR(port);
  NatsServerProcess server(binary, dir_template, *port);
  HOTROD_RETURN_IF_ERROR(server.Launch());
  return server;
}

inline NatsServerProcess::NatsServerProcess(NatsServerProcess&& other) noexcept
    : binary_(std::move(other.binary_)),
      dir_(std::move(other.dir_)),
      port_(other.port_),
      pid_(std::exchange(other.pid_, -1)),
      launches_(other.launches_) {
  other.dir_.clear();
}

inline NatsServerProcess::~NatsServerProcess() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

inline void NatsServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

inline Status NatsServerProcess::Restart() {
  Kill();
  return Launch();
}

inline Status NatsServerProcess::Launch() {
  const std::string log = fmt::format("{}/server-{}.log", dir_, ++launches_);
  const std::string port = std::to_string(port_);
  const std::string store = dir_ + "/jetstream";
  std::vector<std::string> args = {binary_, "-js", "-a", "127.0.0.1", "-p", port, "-sd", store};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return MakeError(ErrorCode::kInternal, "cannot create " + log);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return MakeError(ErrorCode::kInternal, "fork failed");
  }
  if (pid == 0) {
    // A test that crashes takes its server along instead of leaving it running.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  // Ready when it says so: JetStream (store recovery included) is up before this line.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (nats_server_test_util::ReadFile(log).find("Server is ready") != std::string::npos)
      return Status::Ok();
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return MakeError(ErrorCode::kInternal, fmt::format("nats-server exited at start: {}",
                                                         nats_server_test_util::ReadFile(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return MakeError(ErrorCode::kTimeout, fmt::format("nats-server not ready after 30 s: {}",
                                                    nats_server_test_util::ReadFile(log)));
}

}  // namespace hotrod
