/*
 * ovsdbc internals: what the libev side (ovsdbc.c) and the IDL thread
 * (ovsdbc-idl.c) share.  Everything in 'struct ovsdbc_shared' below the
 * mutex is read and written with the mutex held; the rest is set before
 * the thread starts and constant afterwards.
 */
#ifndef VMACD_OVSDBC_PRIVATE_H
#define VMACD_OVSDBC_PRIVATE_H 1

#include <stdbool.h>
#include <stdint.h>

#include "latch.h"
#include "ovs-thread.h"
#include "ovsdbc.h"

#define OVSDBC_ERROR_MAX 256 /* Bytes of a write's error message. */

/* A write asked for by the libev side. */
struct ovsdbc_request {
    uint64_t id;
    char bridge[64]; /* Bridge names are at most 15 bytes. */
    enum ovsdbc_fail_mode fail_mode;
};

struct ovsdbc_result {
    uint64_t id;
    enum ovsdbc_write_result result;
    char error[OVSDBC_ERROR_MAX];
};

struct ovsdbc_shared {
    /* Constant while the thread runs. */
    char *remote;
    char *private_key, *certificate, *ca_cert;
    void (*notify)(struct ovsdbc_shared *); /* Wakes the libev side. */
    struct latch wake;                      /* Wakes the thread. */

    struct ovs_mutex mutex;
    bool exiting; /* The thread must return. */

    /* Thread to libev side. */
    struct ovsdbc_status status;
    bool status_changed;
    struct ovsdbc_snap *snap; /* Newest snapshot not yet taken, or NULL. */
    size_t n_results;
    struct ovsdbc_result results[OVSDBC_MAX_WRITES];

    /* libev side to thread. */
    size_t n_requests;
    struct ovsdbc_request requests[OVSDBC_MAX_WRITES];
};

/* ovsdbc-idl.c: the thread's body ('shared' is a struct ovsdbc_shared). */
void *ovsdbc_thread_main(void *shared);

/* ovsdbc-snap.c: frees 'snap' whatever its reference count. */
void ovsdbc_snap_free__(struct ovsdbc_snap *);

#endif /* ovsdbc-private.h */
