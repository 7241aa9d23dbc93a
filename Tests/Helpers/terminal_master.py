"""What the console-socket helpers share: reading a pseudo-terminal's master to its end."""
import os


def read_until_closed(master):
    """Everything written to the terminal until its last replica descriptor is closed."""
    output = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every replica descriptor is closed
            break
        if not chunk:
            break
        output += chunk
    return output
