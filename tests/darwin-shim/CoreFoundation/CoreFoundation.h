// Stand-in for Apple's <CoreFoundation/CoreFoundation.h> (CFBase.h, CFArray.h,
// CFData.h, CFString.h, CFError.h), declaring only what
// daemon/platform_trust_darwin.cpp uses. Linux has no such header. See README.md.
//
// Ownership, as Apple's "Memory Management Programming Guide for Core
// Foundation" states it: a function with Create or Copy in its name returns
// an object the caller owns and must CFRelease exactly once; a Get function
// returns one it does not own.
#ifndef LOOPGATE_DARWIN_SHIM_COREFOUNDATION_H
#define LOOPGATE_DARWIN_SHIM_COREFOUNDATION_H

#include <MacTypes.h>

#ifdef __cplusplus
extern "C" {
#endif

// CFBase.h: any Core Foundation object; signed index and count type.
typedef const void* CFTypeRef;
typedef long CFIndex;

// CFBase.h: opaque object types. CFErrorRef is the one mutable reference.
typedef const struct __CFAllocator* CFAllocatorRef;
typedef const struct __CFString* CFStringRef;
typedef const struct __CFArray* CFArrayRef;
typedef const struct __CFData* CFDataRef;
typedef struct __CFError* CFErrorRef;

// CFBase.h: the default allocator (the same as passing NULL).
extern const CFAllocatorRef kCFAllocatorDefault;

// CFBase.h: gives up one reference; the object is freed with the last one.
// Must not be passed NULL.
void CFRelease(CFTypeRef cf);

// CFArray.h: how an array retains, releases, describes and compares its values.
typedef const void* (*CFArrayRetainCallBack)(CFAllocatorRef allocator, const void* value);
typedef void (*CFArrayReleaseCallBack)(CFAllocatorRef allocator, const void* value);
typedef CFStringRef (*CFArrayCopyDescriptionCallBack)(const void* value);
typedef Boolean (*CFArrayEqualCallBack)(const void* value1, const void* value2);
typedef struct {
    CFIndex version;
    CFArrayRetainCallBack retain;
    CFArrayReleaseCallBack release;
    CFArrayCopyDescriptionCallBack copyDescription;
    CFArrayEqualCallBack equal;
} CFArrayCallBacks;

// CFArray.h: callbacks for an array of CF objects: the array retains each
// value it is created with (CFRetain) and releases it when it goes.
extern const CFArrayCallBacks kCFTypeArrayCallBacks;

// CFArray.h: an immutable array of numValues values (Create rule).
CFArrayRef CFArrayCreate(CFAllocatorRef allocator, const void** values, CFIndex numValues,
                         const CFArrayCallBacks* callBacks);

// CFData.h: an immutable copy of `length` bytes (Create rule).
CFDataRef CFDataCreate(CFAllocatorRef allocator, const UInt8* bytes, CFIndex length);

// CFString.h: text encodings; kCFStringEncodingUTF8 is 0x08000100.
typedef UInt32 CFStringEncoding;
enum { kCFStringEncodingUTF8 = 0x08000100 };

// CFString.h: a string from a NUL-terminated C string (Create rule); NULL
// when the bytes are not valid in `encoding`.
CFStringRef CFStringCreateWithCString(CFAllocatorRef alloc, const char* cStr, CFStringEncoding encoding);

// CFString.h: length in UTF-16 code units.
CFIndex CFStringGetLength(CFStringRef theString);

// CFString.h: the most bytes `length` UTF-16 units can take in `encoding`
// (without the terminating NUL).
CFIndex CFStringGetMaximumSizeForEncoding(CFIndex length, CFStringEncoding encoding);

// CFString.h: copies the string, NUL-terminated, into buffer; false when it
// does not fit or cannot be converted.
Boolean CFStringGetCString(CFStringRef theString, char* buffer, CFIndex bufferSize, CFStringEncoding encoding);

// CFError.h: the error's code; in NSOSStatusErrorDomain (SecTrust's) an OSStatus.
CFIndex CFErrorGetCode(CFErrorRef err);

// CFError.h: a description for a person (Copy rule).
CFStringRef CFErrorCopyDescription(CFErrorRef err);

#ifdef __cplusplus
}
#endif

#endif
