// Stand-in for Apple's <MacTypes.h> (the SDK's usr/include/MacTypes.h),
// declaring only the types CoreFoundation/CoreFoundation.h and
// Security/Security.h here use. Linux has no such header. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_MACTYPES_H
#define LOOPGATE_DARWIN_SHIM_MACTYPES_H

#include <stdint.h>

// <MacTypes.h>: fixed-size integers.
typedef uint8_t UInt8;
typedef uint32_t UInt32;
typedef int32_t SInt32;

// <MacTypes.h>: "Boolean" is an unsigned char (0 false, 1 true), not C's bool.
typedef unsigned char Boolean;

// <MacTypes.h>: the result code of most Apple C APIs; 0 (noErr) is success.
typedef SInt32 OSStatus;

#endif
