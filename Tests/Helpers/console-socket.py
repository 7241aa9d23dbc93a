#!/usr/bin/env python3
"""Plays containerd's part in `create --console-socket`: listens on a UNIX socket,
runs `isorun create` (argv after the socket path, with --console-socket added), receives
the pseudo-terminal master, runs `isorun start ID`, types the optional fifth argument
into it (with a sixth, ROWSxCOLUMNS, the terminal is resized as a console does after the
first line typed), and copies what the container writes to its terminal to stdout until
the terminal closes. Exits with create's status on failure."""
import atexit, os, shutil, socket, subprocess, sys, tempfile

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
from terminal_master import read_until_closed  # noqa: E402

isorun, root, bundle, container_id = sys.argv[1:5]
typed = sys.argv[5] if len(sys.argv) > 5 else ""
resize = sys.argv[6] if len(sys.argv) > 6 else ""
directory = tempfile.mkdtemp(prefix="isorun-console-")
# Removed on every way out (a failed create or exec too), not only at the end.
atexit.register(shutil.rmtree, directory, True)
path = os.path.join(directory, "console.sock")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(1)
create = subprocess.run([isorun, "--root", root, "create", "--bundle", bundle, "--console-socket", path, container_id],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if create.returncode != 0:
    sys.stderr.write(create.stderr.decode())
    sys.exit(create.returncode)
listener.settimeout(5)
connection, _ = listener.accept()
name, fds, _, _ = socket.recv_fds(connection, 256, 1)
master = fds[0]
print("name:", name.decode(), flush=True)
subprocess.run([isorun, "--root", root, "start", container_id], check=True)
if resize:
    import fcntl, struct, termios, time
    first, rest = typed.split("\n", 1)
    os.write(master, (first + "\n").encode())
    time.sleep(1)
    rows, columns = (int(n) for n in resize.split("x"))
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    time.sleep(0.5)
    typed = rest
if typed:
    os.write(master, typed.encode())
sys.stdout.write(read_until_closed(master).decode(errors="replace"))
sys.stdout.flush()
