#!/usr/bin/env python3
"""Plays containerd's part in `exec --tty --console-socket`: listens on a UNIX socket, runs
`isorun --root ROOT exec --tty --console-socket SOCKET [--detach --pid-file F] ID ARGS...`,
receives the pseudo-terminal master, types TYPED into it, and copies what the process writes
to its terminal to stdout until the terminal closes. Prints `status: N`, exec's own status
(the relay's, with --detach, read back through the pid file is not possible: N is then
exec's), and exits 0.

usage: exec-console.py ISORUN ROOT ID TYPED [--detach] -- ARGS..."""
import atexit, os, shutil, socket, subprocess, sys, tempfile

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
from terminal_master import read_until_closed  # noqa: E402

isorun, root, container_id, typed = sys.argv[1:5]
rest = sys.argv[5:]
detach = rest[0] == "--detach"
args = rest[rest.index("--") + 1:]
directory = tempfile.mkdtemp(prefix="isorun-exec-console-")
# Removed on every way out (a failed create or exec too), not only at the end.
atexit.register(shutil.rmtree, directory, True)
path = os.path.join(directory, "console.sock")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(1)
command = [isorun, "--root", root, "exec", "--tty", "--console-socket", path]
if detach:
    command += ["--detach", "--pid-file", os.path.join(directory, "pid")]
exec_process = subprocess.Popen(command + [container_id] + args, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
listener.settimeout(10)
try:
    connection, _ = listener.accept()
except socket.timeout:
    sys.stderr.write(exec_process.communicate()[1].decode())
    sys.exit(1)
_, fds, _, _ = socket.recv_fds(connection, 256, 1)
master = fds[0]
os.write(master, typed.encode())
output = read_until_closed(master)
status = exec_process.wait()
sys.stderr.write(exec_process.stderr.read().decode())
sys.stdout.write(output.decode(errors="replace"))
print("status:", status)
