#!/usr/bin/env python3
# A relay written against nothing but what an exec program is told
# (README, "Black-box programs"): it accepts the writers' connections on the
# listening socket it gets as stdin (a tcp input), takes each connection's
# byte stream apart into messages by the header's size field, and sends them
# on one unix_stream connection of its own to the output's path.
#
# It is the only reader of its input (count: 1), so adding to the control
# file's ACCEPTED word needs no atomic operation: no one else writes it.
# Every read of the control file is followed by system calls (accept, recv,
# select) that order it before what they find.
import mmap
import os
import select
import socket
import struct
import sys

HEADER = 32  # IPCTORTURE_HEADER_SIZE; the message's size is the 32-bit word at byte 16


def env(name):
    return os.environ["IPCTORTURE_" + name]


def main():
    if env("INPUT_SOCKET") != "listen" or env("INPUT_FRAMING") != "stream":
        sys.exit("socket-relay.py: the input must be a listening stream socket (tcp, unix_stream)")
    if env("OUTPUT") != "unix_stream":
        sys.exit("socket-relay.py: the output must be unix_stream")
    fd = os.open(env("INPUT_END_FILE"), os.O_RDWR)
    ctl = mmap.mmap(fd, 0)
    os.close(fd)
    end_at = int(env("INPUT_END_OFFSET"))
    connected_at = int(env("INPUT_CONNECTED_OFFSET"))
    accepted_at = int(env("INPUT_ACCEPTED_OFFSET"))

    listener = socket.socket(fileno=0)
    listener.setblocking(False)
    out = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    out.connect(env("OUTPUT_PATH"))
    conns = {}  # connection -> the bytes of a message not yet whole

    def accept_all():
        took = False
        while True:
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                return took
            except ConnectionAbortedError:
                conn = None
            (n,) = struct.unpack_from("=Q", ctl, accepted_at)
            struct.pack_into("=Q", ctl, accepted_at, n + 1)
            took = True
            if conn is not None:
                conn.setblocking(False)
                conns[conn] = bytearray()

    def forward_whole(buf):
        while len(buf) >= HEADER:
            (size,) = struct.unpack_from("=I", buf, 16)
            if size < HEADER:
                sys.exit(f"socket-relay.py: a message of {size} bytes is shorter than its header")
            if len(buf) < size:
                return
            out.sendall(buf[:size])
            del buf[:size]

    while True:
        # The end: no writer open (read first), nothing left to accept, every
        # connection at its end of file, and every connection a writer made
        # accepted.
        (open_writers,) = struct.unpack_from("=I", ctl, end_at)
        if open_writers == 0 and not accept_all() and not conns:
            (made,) = struct.unpack_from("=Q", ctl, connected_at)
            (taken,) = struct.unpack_from("=Q", ctl, accepted_at)
            if taken >= made:
                break
        ready, _, _ = select.select([listener, *conns], [], [], 0.02)
        for s in ready:
            if s is listener:
                accept_all()
                continue
            try:
                data = s.recv(1 << 16)
            except BlockingIOError:
                continue
            conns[s] += data
            forward_whole(conns[s])
            if not data:  # end of file: what is left was never sent whole
                del conns[s]
                s.close()
    out.close()


if __name__ == "__main__":
    main()
