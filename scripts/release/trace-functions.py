#!/usr/bin/env python3
"""Lists the functions a static, non-PIE executable enters while it runs a command.

    trace-functions.py EXECUTABLE [ARG...]

Runs EXECUTABLE under ptrace with a breakpoint (int3) on the first byte of every
function its symbol table names; each breakpoint is removed on its first hit and the
function's name printed, in first-entry order. Threads and vfork-style children, which
share the breakpoints, are traced too until they exec; a forked child gets the original
code back and runs untraced (a container waiting for `start` must not trip on them). Sampling profilers miss the many tiny functions (value witnesses,
outlined copies) that each still cost a page fault when they lie far from the rest.
Linux x86_64 only; needs nm and permission to ptrace (root).
"""
import ctypes
import os
import signal
import subprocess
import sys

PTRACE_TRACEME, PTRACE_CONT, PTRACE_GETREGS, PTRACE_SETREGS = 0, 7, 12, 13
PTRACE_DETACH, PTRACE_SETOPTIONS, PTRACE_GETEVENTMSG = 17, 0x4200, 0x4201
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10  # TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC
EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC = 1, 2, 3, 4
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


class Registers(ctypes.Structure):
    """struct user_regs_struct on x86_64: 27 registers, rip the 17th."""
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags "
        "rsp ss fs_base gs_base ds es fs gs").split()]


def ptrace(request, pid, addr=0, data=0):
    result = libc.ptrace(request, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
    if result == -1 and ctypes.get_errno() != 0:
        raise OSError(ctypes.get_errno(), f"ptrace({request}, {pid})")
    return result


def function_symbols(executable):
    """Start address -> names, for every defined function symbol."""
    output = subprocess.run(["nm", "--defined-only", executable], check=True, capture_output=True, text=True).stdout
    functions = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in "tTwW":
            functions.setdefault(int(fields[0], 16), []).append(fields[2])
    return functions


def text_range(executable):
    """(start, end) of the executable's first PT_LOAD segment that is executable."""
    output = subprocess.run(["readelf", "-lW", executable], check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"] and "E" in fields[6:-1]:
            start = int(fields[2], 16)
            return start, start + int(fields[5], 16)
    sys.exit(f"{executable}: no executable segment")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    executable = sys.argv[1]
    start, end = text_range(executable)
    functions = {address: names for address, names in function_symbols(executable).items() if start <= address < end}

    pid = os.fork()
    if pid == 0:
        # The names go to stdout: the command's own output goes nowhere.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        ptrace(PTRACE_TRACEME, 0)
        os.execv(executable, sys.argv[1:])
    _, status = os.waitpid(pid, WALL)  # stopped at its exec
    ptrace(PTRACE_SETOPTIONS, pid, 0, OPTIONS)
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as memory:
        memory.seek(start)
        original = memory.read(end - start)
        patched = bytearray(original)
        for address in functions:
            patched[address - start] = 0xCC
        memory.seek(start)
        memory.write(bytes(patched))
    ptrace(PTRACE_CONT, pid)

    entered = {}  # address -> None, in first-entry order
    live = {pid}
    kinds = {}  # new child -> "fork" or "shared" (memory), as its parent's event said
    waiting = set()  # new children stopped before their parent's event was seen

    def admit(child):
        """A new child, stopped, whose kind is known: traced if it shares our breakpoints,
        else given the original code back and let go."""
        if kinds.pop(child) == "shared":
            live.add(child)
            ptrace(PTRACE_CONT, child)
            return
        with open(f"/proc/{child}/mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            memory.write(original)
        ptrace(PTRACE_DETACH, child)

    while live or waiting:
        try:
            child, status = os.waitpid(-1, WALL)
        except ChildProcessError:
            break
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            live.discard(child)
            continue
        stop = os.WSTOPSIG(status)
        event = status >> 16
        if event in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE):
            message = ctypes.c_ulong()
            ptrace(PTRACE_GETEVENTMSG, child, 0, ctypes.addressof(message))
            kinds[message.value] = "fork" if event == EVENT_FORK else "shared"
            if message.value in waiting:
                waiting.discard(message.value)
                admit(message.value)
            ptrace(PTRACE_CONT, child)
            continue
        if child not in live:  # a new child's first stop
            if child in kinds:
                admit(child)
            else:
                waiting.add(child)
            continue
        if event == EVENT_EXEC and child != pid:
            ptrace(PTRACE_DETACH, child)  # another program now: nothing of ours to trace
            live.discard(child)
            continue
        deliver = 0
        if stop == signal.SIGTRAP and event == 0:
            registers = Registers()
            ptrace(PTRACE_GETREGS, child, 0, ctypes.addressof(registers))
            address = registers.rip - 1
            if address in functions:
                # Restored in this process's memory (shared by threads and a vfork-style child).
                with open(f"/proc/{child}/mem", "r+b", buffering=0) as memory:
                    memory.seek(address)
                    memory.write(original[address - start:address - start + 1])
                registers.rip = address
                ptrace(PTRACE_SETREGS, child, 0, ctypes.addressof(registers))
                entered.setdefault(address)
            else:
                deliver = stop
        elif stop not in (signal.SIGTRAP, signal.SIGSTOP):
            deliver = stop
        try:
            ptrace(PTRACE_CONT, child, 0, deliver)
        except OSError:
            live.discard(child)
    for address in entered:
        for name in functions[address]:
            print(name)


if __name__ == "__main__":
    main()
