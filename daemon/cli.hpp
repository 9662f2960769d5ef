// The command line: `loopgate run|check --config FILE`, --version, --help.
#pragma once

namespace loopgate {

// The whole program; main() only calls this, so tests could drive it too.
int run_cli(int argc, char** argv);

}  // namespace loopgate
