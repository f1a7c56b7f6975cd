// Internal to src/cli: the state one CLI run shares between its command groups, and the helpers
// every client command uses to call the REST API and report results.
//
// Flow: RunCli builds a CLI::App, each group's Add*Commands registers its subcommands; the parse
// callback of the chosen leaf stores a closure in CliContext::run, which RunCli calls after
// parsing succeeded. A closure returns the exit code and writes only to ctx.out / ctx.err.
// Single-threaded: one CliContext per run.
#pragma once

#include <CLI/CLI.hpp>

#include <boost/json/value.hpp>

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/cli.h"
#include "cli/config.h"
#include "cli/http_client.h"
#include "common/result.h"

namespace hotrod {

// Exit codes: 0 success; 1 the server refused or the function failed; 2 bad usage or input.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct CliContext {
  std::ostream& out;
  std::ostream& err;
  ConfigFlags flags;  // --apihost / --auth, wherever on the line they were given
  bool json = false;  // --json: print the raw body instead of tables and messages
  std::function<int()> run;
};

// Adds --apihost, --auth and --json to a client command (the root has them too, so they may be
// given before or after the command words).
void AddClientFlags(CLI::App& cmd, CliContext& ctx);

void AddServeCommand(CLI::App& root, CliContext& ctx, const ServeCommand& serve);
void AddPropertyCommands(CLI::App& root, CliContext& ctx);
void AddActionCommands(CLI::App& root, CliContext& ctx);
void AddActivationCommands(CLI::App& root, CliContext& ctx);
void AddPackageCommands(CLI::App& root, CliContext& ctx);  // package.cc
void AddAdminCommands(CLI::App& root, CliContext& ctx);
void AddTriggerCommands(CLI::App& root, CliContext& ctx);  // trigger.cc
void AddRuleCommands(CLI::App& root, CliContext& ctx);     // rule.cc

// A reply of any HTTP status, with the body parsed when it is JSON.
struct ApiReply {
  int status = 0;
  std::string body;
  boost::json::value json;  // null when the body is empty or not JSON
  bool is_json = false;
  std::string activation_id;  // the x-openwhisk-activation-id header, if any
  bool ok() const { return status >= 200 && status < 300; }
};

// Resolves apihost and auth (config.h), sends one request and returns the reply. Errors: bad
// apihost, no credentials (a message listing the ways to give them), unreachable server.
Result<ApiReply> CallApi(const CliContext& ctx, std::string_view method, const std::string& target,
                         std::string_view body = {});

// Prints "error: ..." for a failed call or an error reply to ctx.err and returns the exit code:
// kExitUsage for input errors found before sending, kExitFailure otherwise.
int ReportError(const CliContext& ctx, const Error& error);
int ReportHttpError(const CliContext& ctx, const ApiReply& reply);

// Prints a successful reply: the raw body with --json, else `human()` (called only then).
int PrintReply(const CliContext& ctx, const ApiReply& reply, const std::function<std::string()>& human);

// A command that is one request: CallApi, then ReportError for a failed call, ReportHttpError for
// an error reply, else PrintReply with `human(reply)`. Returns the exit code.
int CallAndPrint(const CliContext& ctx, std::string_view method, const std::string& target,
                 std::string_view body, const std::function<std::string(const ApiReply&)>& human);

}  // namespace hotrod
