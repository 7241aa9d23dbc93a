#!/usr/bin/env python3
"""A seccomp agent for the tests (linux.seccomp.listenerPath).

    seccomp_agent.py SOCKET STATE_FILE

Listens on SOCKET, takes one container's listener, writes the container process state
that came with it to STATE_FILE, and answers every notified system call with success
(return value 0) without running it: a notified mkdir "succeeds" and no directory
appears. Prints "ready" once listening; writes the number of calls it answered to
STATE_FILE.answered when the container's last process has gone (or after 20 s idle).
"""
import fcntl
import os
import select
import socket
import struct
import sys

# _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101
NOTIF_SIZE = 80


def main(path, state_file):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    print("ready", flush=True)
    connection, _ = server.accept()
    message, fds, _, _ = socket.recv_fds(connection, 1 << 16, 1)
    while True:  # the runtime may send the rest of the document in later messages
        more = connection.recv(1 << 16)
        if not more:
            break
        message += more
    connection.close()
    server.close()
    os.unlink(path)
    with open(state_file, "w") as out:
        out.write(message.decode())
    if not fds:
        sys.exit("no descriptor came with the state")
    listener = fds[0]
    answered = 0
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    while True:
        events = poller.poll(20000)
        if not events:
            break
        _, mask = events[0]
        if not mask & select.POLLIN:
            break  # POLLHUP: no process uses the filter any more
        request = bytearray(NOTIF_SIZE)
        try:
            fcntl.ioctl(listener, NOTIF_RECV, request)
        except OSError:
            continue  # the caller died before we read its call
        (call_id,) = struct.unpack_from("=Q", request)
        try:
            fcntl.ioctl(listener, NOTIF_SEND, struct.pack("=QqiI", call_id, 0, 0, 0))
            answered += 1
        except OSError:
            pass
    with open(state_file + ".answered", "w") as out:
        out.write(str(answered))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
