// Stand-in for Apple's <IOKit/IOMessage.h> (IOKit.framework), declaring only
// the system power messages daemon/wake_watch_darwin.cpp handles. Values:
// iokit_common_msg(x) = sys_iokit | sub_iokit_common | x, with sys_iokit =
// err_system(0x38) = 0x38 << 26 = 0xe0000000 and sub_iokit_common = 0
// (<IOKit/IOReturn.h>, <mach/error.h>). See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_IOKIT_IOMESSAGE_H
#define LOOPGATE_DARWIN_SHIM_IOKIT_IOMESSAGE_H

// <IOKit/IOMessage.h>: an idle sleep is being considered; answer with
// IOAllowPowerChange (or IOCancelPowerChange).
#define kIOMessageCanSystemSleep 0xe0000270u
// <IOKit/IOMessage.h>: the system is going to sleep; answer with IOAllowPowerChange.
#define kIOMessageSystemWillSleep 0xe0000280u
// <IOKit/IOMessage.h>: the system and its devices have woken up; no answer.
#define kIOMessageSystemHasPoweredOn 0xe0000300u

#endif
