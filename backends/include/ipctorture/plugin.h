/* The plugin ABI: your own IPC code as an ipctorture backend.
 *
 * A plugin is a shared library that exports one function,
 *
 *     const ipctorture_plugin* ipctorture_plugin_v1(void);
 *
 * returning a table of function pointers (below) that stays valid while the
 * library is loaded.  The harness loads the library in the orchestrator (to
 * validate the scenario and to create and clean up channels) and again in
 * every worker process (to open endpoints and move messages), so nothing a
 * plugin keeps in memory crosses processes: what the workers need travels in
 * the "state" string create() returns.  The harness wraps the table in its
 * C++ Backend interface, so the checker, the reports, the conformance suite
 * and the operation-sequence fuzzer treat a plugin like a built-in backend.
 *
 * The ABI is plain C (C99 and C++); every struct the harness passes in or
 * takes back carries what its version needs to grow without breaking old
 * plugins:
 *   - IPCTORTURE_PLUGIN_ABI_VERSION changes when a function's meaning or a
 *     struct's layout changes incompatibly.  The harness refuses a plugin
 *     built for another version and says which two versions met.
 *   - ipctorture_plugin.size is sizeof(ipctorture_plugin) as the plugin was
 *     compiled.  Later minor versions only append members; the harness reads
 *     an appended member only when size covers it, and refuses a table
 *     smaller than the members of version 1.
 *
 * Threads: the harness may call the functions from several threads at once
 * (`ipctorture run --as-threads` runs each "process" as a thread of one
 * worker), each thread with endpoints of its own.  One endpoint is used by
 * one thread at a time.  Signals: a signaler role may interrupt any blocking
 * call; return IPCT_PLUGIN_ERROR with errno EINTR (the harness retries) or
 * retry yourself.
 *
 * Strings passed in are NUL-terminated and valid only for the duration of
 * the call.  Strings the plugin returns in the table (name, summary, notes)
 * must live as long as the library.
 */
#ifndef IPCTORTURE_PLUGIN_H
#define IPCTORTURE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPCTORTURE_PLUGIN_ABI_VERSION 1u
/* The name of the entry function, for dlsym. */
#define IPCTORTURE_PLUGIN_ENTRY "ipctorture_plugin_v1"

/* Room for a create() state string, its terminating NUL included. */
#define IPCTORTURE_PLUGIN_STATE_MAX 4096u
/* Room for an error message, its terminating NUL included. */
#define IPCTORTURE_PLUGIN_MESSAGE_MAX 512u

/* Results of the functions that return an int. */
enum ipctorture_plugin_result {
    IPCT_PLUGIN_OK = 0,
    /* Nothing was done and nothing is wrong: the queue is full (send) or
     * empty while writers remain (receive).  The harness calls again after a
     * short pause; a plugin may also block instead and never return this. */
    IPCT_PLUGIN_WOULD_BLOCK = 1,
    /* receive() only: every writer has gone (closed, or ended: see
     * process_gone) and nothing is left to read.  Every later receive()
     * returns it too. */
    IPCT_PLUGIN_EOF = 2,
    /* A failure; *err_no holds the errno that explains it (EPIPE,
     * EMSGSIZE, ...), which the harness records as it is. */
    IPCT_PLUGIN_ERROR = -1
};

enum ipctorture_plugin_direction { IPCT_PLUGIN_READ = 0, IPCT_PLUGIN_WRITE = 1 };

enum ipctorture_plugin_unit {
    /* Each send() is one message and each receive() returns one whole
     * message (or its first `capacity` bytes, the rest discarded). */
    IPCT_PLUGIN_UNIT_MESSAGE = 0,
    /* A byte stream: send() may take part of the buffer, receive() returns
     * whatever bytes are there; the harness frames its messages itself. */
    IPCT_PLUGIN_UNIT_BYTE_STREAM = 1
};

/* One channel option as the scenario wrote it: `options: {slots: 8}` arrives
 * as {"slots", "8"}.  Keys are unique. */
typedef struct ipctorture_plugin_option {
    const char* key;
    const char* value;
} ipctorture_plugin_option;

/* Everything a call may need to know about the channel. */
typedef struct ipctorture_plugin_channel {
    /* Unique per run and channel together with `index`: name global objects
     * (shm, queues, sockets) after both so that parallel runs never meet. */
    const char* run_id;
    /* A directory that exists for the whole run and is removed after it;
     * files made there need no cleanup of their own. */
    const char* run_dir;
    const char* name; /* the channel's name in the scenario */
    uint32_t index;   /* the channel's index in the run */
    /* The topology: how many processes write and read the channel. */
    uint32_t writers;
    uint32_t readers;
    uint64_t seed; /* the run seed */
    const ipctorture_plugin_option* options;
    size_t option_count;
} ipctorture_plugin_channel;

/* Why a call failed, filled by the plugin when it returns IPCT_PLUGIN_ERROR
 * (or NULL from open()).  The harness zeroes it before each call. */
typedef struct ipctorture_plugin_error {
    char message[IPCTORTURE_PLUGIN_MESSAGE_MAX]; /* what is wrong and what was expected */
    /* validate() and contract(): the index in the options array of the option
     * at fault, so that the harness can report the file:line:column of its
     * value; -1 (the default) points at the `plugin:` key. */
    int option;
} ipctorture_plugin_error;

/* What the channel promises.  The checker judges every run against it: claim
 * only what the code guarantees. */
typedef struct ipctorture_plugin_contract {
    uint32_t unit;        /* enum ipctorture_plugin_unit */
    uint32_t fifo;        /* nonzero: one writer's messages are received in the order sent */
    uint32_t lossless;    /* nonzero: every send that returned OK is received once */
    uint32_t reserved;    /* zero */
    uint64_t max_message; /* the largest message send() takes, in bytes (at least 32) */
    const char* notes;    /* NULL or a sentence for `ipctorture explain`; static storage */
} ipctorture_plugin_contract;

typedef struct ipctorture_plugin {
    uint32_t abi_version; /* IPCTORTURE_PLUGIN_ABI_VERSION */
    uint32_t size;        /* sizeof(ipctorture_plugin) */
    const char* name;     /* short, e.g. "example_ring"; letters, digits, '_', '-' */
    const char* summary;  /* one line: what mechanism this is */

    /* Orchestrator, at load time and by `ipctorture validate`: checks the
     * channel's options (ch->options; the topology counts are zero here).
     * Reject unknown keys and bad values with IPCT_PLUGIN_ERROR, a message
     * saying what was expected and err->option set to the offending option;
     * the harness reports it at that option's file:line:column and exits 2.
     * No side effects. */
    int (*validate)(const ipctorture_plugin_channel* ch, ipctorture_plugin_error* err);

    /* Any process, after validate() accepted the options: the contract they
     * give.  Pure: the same options always give the same contract. */
    int (*contract)(const ipctorture_plugin_channel* ch, ipctorture_plugin_contract* out,
                    ipctorture_plugin_error* err);

    /* Orchestrator, once per channel before any worker starts: makes the
     * channel (ch carries the topology) and writes into `state` (room for
     * `state_size` bytes, NUL included) the string every worker's open(),
     * process_gone() and cleanup() will get: object names, sizes.  On failure
     * it removes what it made and returns IPCT_PLUGIN_ERROR; the run ends
     * with exit status 3 and err->message. */
    int (*create)(const ipctorture_plugin_channel* ch, char* state, size_t state_size,
                  ipctorture_plugin_error* err);

    /* Worker: an endpoint for one side of the channel, or NULL with err
     * filled.  `rank` is the caller's index among the channel's readers
     * (direction IPCT_PLUGIN_READ) or writers, from 0; ch->readers and
     * ch->writers say how many there are. */
    void* (*open)(const ipctorture_plugin_channel* ch, const char* state, int direction,
                  uint32_t rank, ipctorture_plugin_error* err);

    /* Worker, writer side: sends buf[0..len).  IPCT_PLUGIN_OK with *done = the
     * bytes taken: a message unit takes all `len` (or fails: EMSGSIZE above
     * max_message), a byte stream at least one byte (the harness sends the
     * rest with further calls).  IPCT_PLUGIN_WOULD_BLOCK: nothing taken.
     * IPCT_PLUGIN_ERROR: *err_no set, *done says what was taken before it. */
    int (*send)(void* endpoint, const void* buf, size_t len, size_t* done, int* err_no);

    /* Worker, reader side: receives into buf[0..capacity).  IPCT_PLUGIN_OK
     * with *got >= 1 bytes: one whole message for a message unit (a longer
     * message is cut to `capacity` and consumed), any available bytes for a
     * byte stream.  IPCT_PLUGIN_WOULD_BLOCK: nothing yet.  IPCT_PLUGIN_EOF:
     * every writer has gone and the channel is empty.  IPCT_PLUGIN_ERROR:
     * *err_no set. */
    int (*receive)(void* endpoint, void* buf, size_t capacity, size_t* got, int* err_no);

    /* Worker: releases the endpoint.  A writer's close tells the readers it
     * has gone (their receive() ends with EOF once every writer has).
     * Called once per endpoint; the pointer is not used again. */
    void (*close)(void* endpoint);

    /* Orchestrator (or `ipctorture clean` after the harness itself was
     * killed): removes everything create() made, from ch (options, run id)
     * and the state alone, whatever happened since: workers killed anywhere,
     * the channel half used, cleanup() already run.  `state` is "" when the
     * harness was killed while create() ran (before it could record the
     * state): name global objects after ch->run_id and ch->index so that they
     * can be found without it.  Idempotent: a second call, or a call for
     * objects already gone, returns IPCT_PLUGIN_OK. */
    int (*cleanup)(const ipctorture_plugin_channel* ch, const char* state,
                   ipctorture_plugin_error* err);

    /* Orchestrator, optional (NULL: nothing to do): a process that used the
     * channel on side `direction` with `rank` has ended, however it ended
     * (also after its own close()).  A plugin whose readers learn that the
     * writers are gone from the writers' close() must note a killed writer
     * here, or its readers wait forever.  Idempotent. */
    int (*process_gone)(const ipctorture_plugin_channel* ch, const char* state, int direction,
                        uint32_t rank, ipctorture_plugin_error* err);
} ipctorture_plugin;

/* The entry function's type.  Define it in the plugin as
 *     IPCTORTURE_PLUGIN_EXPORT const ipctorture_plugin* ipctorture_plugin_v1(void) { ... }   */
typedef const ipctorture_plugin* (*ipctorture_plugin_entry)(void);

#if defined(__GNUC__)
#define IPCTORTURE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define IPCTORTURE_PLUGIN_EXPORT
#endif

/* The one symbol a plugin exports.  The harness never calls it twice per
 * load; returning a pointer to a static table is the usual way. */
IPCTORTURE_PLUGIN_EXPORT const ipctorture_plugin* ipctorture_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* IPCTORTURE_PLUGIN_H */
