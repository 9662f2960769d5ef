// macOS: the security session of this process, from SessionGetInfo(3)
// (<Security/AuthSession.h>): a session "has graphic access" when it is a
// graphical login's, which is the one an agent in gui/UID shares.
//
// Written from AuthSession.h's documentation; built and run only on macOS,
// which this project's CI does not have: UNTESTED on a Mac (docs/doctor.md
// says so). CI compiles it against tests/darwin-shim (tools/check-darwin.sh).
#include <Security/AuthSession.h>

#include "login_session.hpp"

namespace loopgate {

LoginSession this_process_session() {
    SecuritySessionId id = 0;
    SessionAttributeBits attributes = 0;
    if (SessionGetInfo(callerSecuritySession, &id, &attributes) != errSessionSuccess) return LoginSession::unknown;
    return (attributes & sessionHasGraphicAccess) != 0 ? LoginSession::graphical : LoginSession::background;
}

}  // namespace loopgate
