// Stand-in for Apple's <dispatch/dispatch.h> (libdispatch, part of libSystem),
// declaring only what daemon/wake_watch_darwin.cpp uses, as C++ sees it
// without Objective-C (<os/object.h> with OS_OBJECT_USE_OBJC 0: every
// dispatch type a pointer to a struct derived from dispatch_object_s). See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_DISPATCH_DISPATCH_H
#define LOOPGATE_DARWIN_SHIM_DISPATCH_DISPATCH_H

#ifdef __cplusplus
extern "C" {
#endif

// <dispatch/object.h>: the base of every dispatch object.
struct dispatch_object_s {};
typedef struct dispatch_object_s* dispatch_object_t;
// <dispatch/queue.h> (DISPATCH_DECL(dispatch_queue)): a queue.
struct dispatch_queue_s : public dispatch_object_s {};
typedef struct dispatch_queue_s* dispatch_queue_t;
// <dispatch/queue.h> (DISPATCH_DECL(dispatch_queue_attr)): queue attributes.
struct dispatch_queue_attr_s : public dispatch_object_s {};
typedef struct dispatch_queue_attr_s* dispatch_queue_attr_t;
// <dispatch/queue.h>: attributes of a serial queue (NULL).
#define DISPATCH_QUEUE_SERIAL NULL
// <dispatch/base.h>: a function-style work item.
typedef void (*dispatch_function_t)(void*);

// <dispatch/queue.h>: a new queue; released with dispatch_release.
dispatch_queue_t dispatch_queue_create(const char* label, dispatch_queue_attr_t attr);
// <dispatch/queue.h>: runs work(context) on the queue and waits until it has run.
void dispatch_sync_f(dispatch_queue_t queue, void* context, dispatch_function_t work);
// <dispatch/object.h>: drops a reference.
void dispatch_release(dispatch_object_t object);

#ifdef __cplusplus
}
#endif

#endif
