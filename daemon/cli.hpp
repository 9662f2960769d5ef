// The command line: `loopgate run|check --config FILE`, --version, --help.
#pragma once

namespace loopgate {

// Exit statuses follow sysexits(3) where one fits.
enum ExitStatus : int {
    kExitOk = 0,
    kExitFailure = 1,
    kExitUsage = 64,   // EX_USAGE
    kExitConfig = 78,  // EX_CONFIG
};

// The whole program; main() only calls this, so tests could drive it too.
int run_cli(int argc, char** argv);

}  // namespace loopgate
