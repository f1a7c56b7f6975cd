// A real PostgreSQL server for tests: Debian's initdb and pg_ctl (package postgresql, version 15)
// in a fresh temporary directory, listening on a free loopback TCP port, stopped and removed
// when the object dies. Test support only (docs/architecture.md, "Store").
//
// PostgreSQL refuses to run as root: as root the binaries run as the `postgres` user (runuser),
// in a directory that user owns; otherwise as the current user. The cluster trusts every local
// connection (it exists for one test run) and runs without fsync (nothing in it must survive a
// power loss), which keeps CREATE DATABASE per test cheap.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/result.h"
#include "store/postgres/pg_conn.h"

namespace hotrod::testing_util {

class PostgresTestServer {
 public:
  static constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
  static constexpr const char* kMissing =
      "PostgreSQL 15 is not installed (no /usr/lib/postgresql/15/bin/initdb): install the Debian "
      "package `postgresql` (apt-get install postgresql, or `make deps`)";

  // initdb + pg_ctl start. The error says what failed and carries the server's log.
  static Result<std::unique_ptr<PostgresTestServer>> Start() {
    if (!std::filesystem::exists(std::string(kBinDir) + "/initdb")) return MakeError(ErrorCode::kUnavailable, kMissing);
    std::unique_ptr<PostgresTestServer> s(new PostgresTestServer());
    std::string pattern = "/tmp/hotrod-pg-XXXXXX";  // /tmp: reachable by the postgres user
    if (mkdtemp(pattern.data()) == nullptr) return Failed("mkdtemp", std::strerror(errno));
    s->dir_ = pattern;
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (pw == nullptr) return Failed("find the postgres user", kMissing);
      if (::chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return Failed("chown", std::strerror(errno));
      s->as_postgres_ = true;
    }
    s->port_ = FreePort();
    if (s->port_ == 0) return Failed("find a free port", std::strerror(errno));
    HOTROD_RETURN_IF_ERROR(s->Run({"initdb", "-D", s->data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                   "--locale=C", "--no-sync", "--no-instructions"},
                                  "initdb"));
    HOTROD_RETURN_IF_ERROR(s->StartServer());
    return s;
  }

  ~PostgresTestServer() {
    (void)StopServer();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  int port() const { return port_; }
  // A libpq URL for database `db` of this server.
  std::string Url(const std::string& db) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }

  // Creates database `db` (a name the test chose: no parameter can name a database) and
  // returns its URL.
  Result<std::string> CreateDatabase(const std::string& db) const {
    HOTROD_ASSIGN_OR_RETURN(auto admin, pg::PgConn::Connect(Url("postgres")));
    const std::string create = "CREATE DATABASE " + db;
    if (auto r = admin->Exec(create.c_str(), "create database"); !r.ok())
      return MakeError(r.error().code, Describe(r.error()));
    return Url(db);
  }

  // pg_ctl start (again, after StopServer: same directory, same port).
  Status StartServer() {
    const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_ +
                                " -c fsync=off -c full_page_writes=off -c max_connections=200";
    HOTROD_RETURN_IF_ERROR(Run({"pg_ctl", "-D", data(), "-l", dir_ + "/server.log", "-w", "-t", "60", "-o", options,
                                "start"},
                               "pg_ctl start"));
    std::ifstream pidfile(data() + "/postmaster.pid");
    pid_t pid = 0;
    if (!(pidfile >> pid) || pid <= 0) return Failed("read postmaster.pid", Log());
    pid_ = pid;
    return Status::Ok();
  }

  // pg_ctl stop -m immediate, then SIGKILL to the postmaster if it is still there.
  Status StopServer() {
    if (pid_ <= 0) return Status::Ok();
    Status stopped = Run({"pg_ctl", "-D", data(), "-m", "immediate", "-w", "-t", "30", "stop"}, "pg_ctl stop");
    if (::kill(pid_, 0) == 0) ::kill(pid_, SIGKILL);
    pid_ = 0;
    return stopped;
  }

  std::string Log() const {
    std::ifstream in(dir_ + "/server.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  PostgresTestServer() = default;

  std::string data() const { return dir_ + "/data"; }

  static Error Failed(const std::string& what, const std::string& why) {
    return MakeError(ErrorCode::kInternal, "test PostgreSQL: " + what + ": " + why);
  }

  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
  }

  // Runs a PostgreSQL binary (as postgres when root), output to dir/command.log; ok on exit 0.
  Status Run(std::vector<std::string> args, const std::string& what) {
    args[0] = std::string(kBinDir) + "/" + args[0];
    if (as_postgres_) args.insert(args.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
    const std::string out = dir_ + "/command.log";
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t child = ::fork();
    if (child < 0) return Failed(what, std::strerror(errno));
    if (child == 0) {
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    return Failed(what, "exit status " + std::to_string(status) + ": " + text.str() + "\nserver log:\n" + Log());
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
  bool as_postgres_ = false;
};

// One server for a whole test binary: register it with
//   ::testing::AddGlobalTestEnvironment(new PostgresEnvironment());
// When the server does not start (PostgreSQL missing: the message names the package), SetUp
// fails and GoogleTest runs no test: the binary fails, it does not skip.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto started = PostgresTestServer::Start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    Slot() = std::move(started).value();
  }
  void TearDown() override { Slot().reset(); }
  // The running server; null outside the environment.
  static PostgresTestServer* server() { return Slot().get(); }

 private:
  static std::unique_ptr<PostgresTestServer>& Slot() {
    static std::unique_ptr<PostgresTestServer> server;
    return server;
  }
};

}  // namespace hotrod::testing_util
