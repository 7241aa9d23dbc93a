#!/usr/bin/env python3
"""Runs a command and reports the processes it left behind.

    subreaper.py COMMAND [ARGS...]

Becomes a child subreaper (PR_SET_CHILD_SUBREAPER) first, so that a process COMMAND
leaves running or unreaped is reparented here rather than to init. Waits for COMMAND,
then for up to 5 s for such orphans, with __WALL so that children without an exit
signal (isorun's helpers) count too. Prints "status N orphans M" as its last line, N as
a shell gives it (128+S for signal S).
"""
import ctypes
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("subreaper.py: prctl: " + os.strerror(ctypes.get_errno()))
child = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status = os.waitpid(child, 0)
code = os.waitstatus_to_exitcode(status)
orphans = 0
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG | WALL)
    except ChildProcessError:
        break
    if pid == 0:
        time.sleep(0.01)
    else:
        orphans += 1
print(f"status {code if code >= 0 else 128 - code} orphans {orphans}", flush=True)
