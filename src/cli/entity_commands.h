// Internal to src/cli: helpers shared by the trigger and rule command groups (trigger.cc).
#pragma once

#include <memory>
#include <string>

#include "cli/commands.h"

namespace hotrod {

// Registers one leaf whose run closure calls fn(ctx, *opts).
template <class Options, class Fn>
void OnRun(CLI::App* cmd, CliContext& ctx, std::shared_ptr<Options> opts, Fn fn) {
  AddClientFlags(*cmd, ctx);
  cmd->callback([&ctx, opts, fn] { ctx.run = [&ctx, opts, fn] { return fn(ctx, *opts); }; });
}

// GET or DELETE of {collection}/{name}: prints the JSON (verb == nullptr) or
// "ok: <verb> <kind> <name>".
int SimpleEntityCall(CliContext& ctx, const std::string& name, const char* collection, const char* method,
                     const char* verb);
// GET {collection}[?limit&skip] as a table of qualified names (rules with their status).
int ListEntities(CliContext& ctx, const char* collection, int64_t limit, int64_t skip);

}  // namespace hotrod
