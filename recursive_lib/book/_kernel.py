"""The kernel ``recursive-book`` executes chapters in: ipykernel, watching its parent.

Started as ``python -m recursive_lib.book._kernel -f CONNECTION_FILE``. Its sockets are abstract
(``ipc://@...``, no file on disk, see :mod:`recursive_lib.book.cli`); what it leaves on disk is
its connection file, which it removes when it exits, and when the process that started it is gone
(killed, even by ``SIGKILL``), it removes it and exits within a second. Its own terminal output
(not the chapter's: that travels to papermill over the sockets) goes nowhere, so a successful run
prints no kernel noise ("KeyboardInterrupt caught in kernel" when papermill shuts it down).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def main() -> None:
    connection_file = sys.argv[sys.argv.index("-f") + 1]
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _remove(connection_file)
        os._exit(1)

    atexit.register(_remove, connection_file)
    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
