// How loopgate's commands end: sysexits(3) codes where one fits. Listed for
// admins in docs/ and the man page.
#pragma once

namespace loopgate {

enum ExitStatus : int {
    kExitOk = 0,
    kExitFailure = 1,  // a probe step failed; a route could not start
    kExitUsage = 64,        // EX_USAGE: the command line is wrong
    kExitNoInput = 66,      // EX_NOINPUT: the config file does not exist or cannot be read
    kExitUnavailable = 69,  // EX_UNAVAILABLE: a listen address is in use; the daemon does not answer
    kExitOsError = 71,      // EX_OSERR: the event loop or a signal watch could not be set up
    kExitConfig = 78,       // EX_CONFIG: the config file is invalid
};

}  // namespace loopgate
