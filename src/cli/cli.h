// The hotrod command line: `hotrod serve` and the client verbs (action, activation...).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "server/serve_options.h"

namespace hotrod {

using ServeCommand = std::function<int(const ServeOptions&)>;

// Parses argv, runs the chosen command, returns the process exit code.
// `serve` is called for `hotrod serve`; every other command is a client of the REST API.
// Never throws: every error becomes a message on stderr and a non-zero exit code (0 success,
// 1 the server refused or the function failed, 2 bad usage or input).
int RunCli(int argc, char** argv, const ServeCommand& serve);

// RunCli with explicit arguments (args[0] is the program name) and output streams, for tests and
// for embedding. Reads the environment and ~/.hotrod/config like RunCli.
int RunCliArgs(const std::vector<std::string>& args, const ServeCommand& serve, std::ostream& out,
               std::ostream& err);

// The data directory used when --data-dir is not given: $HOTROD_DATA_DIR, else $HOME/.hotrod/data.
std::string DefaultDataDir();

}  // namespace hotrod
