// Which login session this process belongs to. On macOS an agent meant to
// serve the person at the screen runs in their graphical session (launchd's
// gui/UID domain, where ~/Library/LaunchAgents is loaded at login). One
// bootstrapped into user/UID, or started over ssh, lands in another security
// session: the Security framework keeps keychain state and authorizations per
// session, and launchd does not start it at login. `loopgate doctor` reports
// that trap; the daemon tells its session on /status.
//
// login_session_darwin.cpp asks the Security framework (SessionGetInfo);
// login_session_none.cpp answers unknown where there is no such notion.
#pragma once

namespace loopgate {

enum class LoginSession { unknown, graphical, background };

LoginSession this_process_session();

// "gui", "background", or "" for unknown (as /status carries it).
inline const char* login_session_name(LoginSession session) {
    switch (session) {
    case LoginSession::graphical: return "gui";
    case LoginSession::background: return "background";
    case LoginSession::unknown: break;
    }
    return "";
}

}  // namespace loopgate
