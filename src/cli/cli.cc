// RunCli: builds the command tree, parses, runs the chosen command, turns every failure into an
// exit code.
#include "cli/cli.h"

#include <exception>
#include <iostream>

#include "cli/commands.h"

namespace hotrod {

int RunCliArgs(const std::vector<std::string>& args, const ServeCommand& serve, std::ostream& out,
               std::ostream& err) {
  CliContext ctx{out, err, {}, false, nullptr};
  try {
    CLI::App app("hotrod: functions as a service. `hotrod serve` runs the platform; the other "
                 "commands talk to it over its REST API.",
                 "hotrod");
    app.require_subcommand(1);
    AddClientFlags(app, ctx);
    AddServeCommand(app, ctx, serve);
    AddActionCommands(app, ctx);
    AddPackageCommands(app, ctx);
    AddActivationCommands(app, ctx);
    AddTriggerCommands(app, ctx);
    AddRuleCommands(app, ctx);
    AddPropertyCommands(app, ctx);
    AddAdminCommands(app, ctx);

    if (args.size() <= 1) {
      out << app.help();
      return kExitUsage;
    }
    // CLI11 wants argv; the strings outlive the parse.
    std::vector<const char*> argv;
    argv.reserve(args.size());
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e, out, err);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e, out, err);
      // CLI11 numbers its errors (105, 106, ...); scripts only need "usage error".
      return code == 0 ? kExitOk : kExitUsage;
    }
    if (!ctx.run) {
      err << "error: no command given; see `hotrod --help`\n";
      return kExitUsage;
    }
    return ctx.run();
  } catch (const std::exception& e) {
    err << "error: " << e.what() << '\n';
  } catch (...) {
    err << "error: unexpected failure\n";
  }
  return kExitFailure;
}

int RunCli(int argc, char** argv, const ServeCommand& serve) {
  std::vector<std::string> args(argv, argv + argc);
  return RunCliArgs(args, serve, std::cout, std::cerr);
}

}  // namespace hotrod
