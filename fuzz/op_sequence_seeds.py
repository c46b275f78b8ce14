#!/usr/bin/env python3
"""Writes the seed corpora of the op_sequence_*_fuzzer targets.

    fuzz/op_sequence_seeds.py            # into fuzz/corpus/op_sequence_*_fuzzer/

An input, as the targets read it through FuzzedDataProvider (which takes
integers from the END of the data, the first one from the last byte): the
target's choice of backend and options (one byte each, see each target),
then fixed-size operations of 4 bytes: code, which, size (16 bits, high byte
first).  So a seed is the list of those bytes in reading order, reversed.
Codes (mod 10): 0-3 send, 4-5 receive, 6 receive into a short buffer,
7 close a writer, 8 open a writer, 9 the orchestrator lets go (after_spawn).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def send(which=0, cls=1, n=0):
    return (0, which, (n << 2) | cls)


def recv():
    return (4, 0, 0)


def short(n):
    return (6, 0, n)


def close(which=0):
    return (7, which, 0)


def reopen():
    return (8, 0, 0)


def let_go():
    return (9, 0, 0)


def encode(config, ops):
    read = list(config)
    for code, which, size in ops:
        read += [code, which, size >> 8, size & 0xFF]
    return bytes(reversed(read))


# Every operation once or more: sends of each size class from two writers,
# whole and short receives, a writer closed and another opened, the
# orchestrator letting go in the middle; the final drain comes after.
TOUR = [send(0, 0), send(0, 1, 10), send(0, 2, 700), send(0, 3), recv(), short(20), recv(),
        recv(), reopen(), send(1, 1, 5), send(0, 0), close(0), send(0, 1, 7), reopen(),
        let_go(), send(1, 2, 100), short(40), recv(), recv(), close(1), recv()]

# Priorities (or types) 0..4 over `which` (its quarter picks one), from one
# writer, then received whole and short.
PRIORITIES = [send(4 * p, 1, p) for p in (1, 3, 0, 4, 2, 1, 3)] + [
    recv(), short(33), recv(), recv(), short(1), recv(), recv(), recv()]

# Fill to the capacity (sends beyond it are skipped), drain, fill again.
FILL = [send(0, 3)] * 12 + [recv()] * 12 + [send(0, 1, 3)] * 12 + [short(50)] * 6

# A longer exchange than the capacity holds at once: each writer's messages
# pass through a few at a time, many more of them than fit in flight; then
# both writers close and the reader drains to end of file.
LONG = [send(0, 1, n) for n in range(3)] + [
    op for n in range(10) for op in (send(0, 1, n), send(1, 0), recv(), recv())] + [
    close(0), close(1), recv(), recv(), recv(), recv()]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    stream = ["pipe", "pipe-write_lock", "pipe-packet", "pipe-capacity16k", "fifo",
              "fifo-locks", "fifo-packet", "unix_stream", "tcp", "tcp-nodelay"]
    for i, name in enumerate(stream):
        write("op_sequence_stream_fuzzer", "seed-" + name, encode([i], TOUR))
    write("op_sequence_stream_fuzzer", "seed-pipe-fill", encode([3], FILL))
    write("op_sequence_stream_fuzzer", "seed-unix_stream-fill", encode([7], FILL))

    posix = ["default", "nonblocking", "depth3", "depth1-nonblocking"]
    for i, name in enumerate(posix):
        write("op_sequence_queue_fuzzer", "seed-posix_mq-" + name, encode([0, i], TOUR))
    write("op_sequence_queue_fuzzer", "seed-posix_mq-priorities", encode([0, 0], PRIORITIES))
    write("op_sequence_queue_fuzzer", "seed-posix_mq-fill", encode([0, 3], FILL))
    reader = ["msgtyp0", "msgtyp1", "msgtyp2", "msgtyp2-except", "msgtyp-1", "msgtyp-3"]
    for i, name in enumerate(reader):
        write("op_sequence_queue_fuzzer", "seed-sysv_msg-" + name,
              encode([1, i % 3, i], PRIORITIES + TOUR))
    write("op_sequence_queue_fuzzer", "seed-sysv_msg-fill", encode([1, 2, 0], FILL))

    dgram = ["unix_dgram", "unix_dgram-max4096", "unix_seqpacket", "unix_seqpacket-max8192",
             "udp", "udp-rcvbuf"]
    for i, name in enumerate(dgram):
        write("op_sequence_datagram_fuzzer", "seed-" + name, encode([i], TOUR))
    write("op_sequence_datagram_fuzzer", "seed-unix_dgram-fill", encode([0], FILL))

    syncs = ["mutex", "semaphore", "atomic"]
    for s, sync in enumerate(syncs):
        # layout (ring, ring, counter, snapshot), sync, slot_size (64, 4096),
        # slots (1, 4, 64; ring only)
        write("op_sequence_shm_fuzzer", "seed-ring-" + sync, encode([0, s, 1, s], TOUR))
        write("op_sequence_shm_fuzzer", "seed-ring-small-" + sync, encode([1, s, 0, 1], FILL))
        write("op_sequence_shm_fuzzer", "seed-counter-" + sync, encode([2, s, 1], TOUR))
        write("op_sequence_shm_fuzzer", "seed-snapshot-" + sync, encode([3, s, s % 2], TOUR))
    # The example plugin's options (op_sequence_plugin_fuzzer.cpp); a plugin
    # of your own given with IPCTORTURE_PLUGIN_OPTIONS reads no option byte.
    plugin = ["default", "slots8", "slots8-max1024", "slots64-max64"]
    for i, name in enumerate(plugin):
        write("op_sequence_plugin_fuzzer", "seed-example_ring-" + name, encode([i], TOUR))
    write("op_sequence_plugin_fuzzer", "seed-example_ring-fill", encode([1], FILL))
    write("op_sequence_plugin_fuzzer", "seed-example_ring-long", encode([2], LONG))
    # Found by the fuzzer (fixed): a ring receive into a short buffer
    # returned EMSGSIZE after consuming the slot, so the message was lost.
    write("op_sequence_shm_fuzzer", "regress-ring-short-buffer-lost",
          encode([0, 0, 1, 1], [send(0, 1, 100), send(0, 0), short(8), recv()]))


if __name__ == "__main__":
    main()
