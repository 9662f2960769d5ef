// The command line: run, check, probe, status, reload, help, --version (see kCommands in cli.cpp).
#pragma once

namespace loopgate {

// The whole program; main() only calls this, so tests could drive it too.
int run_cli(int argc, char** argv);

}  // namespace loopgate
