// Stands in for Apple's <Security/AuthSession.h> (Security framework;
// AuthSession.h's own documentation of SessionGetInfo): the one call
// daemon/login_session_darwin.cpp makes. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_SECURITY_AUTHSESSION_H
#define LOOPGATE_DARWIN_SHIM_SECURITY_AUTHSESSION_H

#include <MacTypes.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// <Security/AuthSession.h>: session identifiers and attribute bits (UInt32 both).
typedef uint32_t SecuritySessionId;
typedef uint32_t SessionAttributeBits;

// <Security/AuthSession.h>: "the Session I (the caller) am in".
#define callerSecuritySession ((SecuritySessionId)-1)

// <Security/AuthSession.h>: SessionAttributeBits.
enum {
    sessionIsRoot = 0x0001,
    sessionHasGraphicAccess = 0x0010,
    sessionHasTTY = 0x0020,
    sessionIsRemote = 0x1000,
};

// <Security/AuthSession.h>: SessionStatus.
enum {
    errSessionSuccess = 0,
    errSessionInvalidId = -60500,
};

// <Security/AuthSession.h>: the actual id and the attribute bits of `session`;
// both outputs are optional (null).
OSStatus SessionGetInfo(SecuritySessionId session, SecuritySessionId* sessionId, SessionAttributeBits* attributes);

#ifdef __cplusplus
}
#endif

#endif
