"""One process at a time in a folder the tools train into (a replication run, a comparison,
tune.py's work folder): two runs into one folder would write the same snapshot files and
resume each other's half-written stages.

The lock is fcntl.flock on FOLDER/.lock, held for the whole run; the kernel releases it when
the holder exits in any way, so a killed run never leaves a folder locked. The file holds the
holder's PID, for the refusal's message, and stays (removing it would race with a process
that has just opened it).
"""
import contextlib
import fcntl
import os
from pathlib import Path

from .cli import BadInput

LOCK = ".lock"


@contextlib.contextmanager
def hold(folder):
    """Hold FOLDER/.lock for the with-block (making the folder); BadInput naming the folder and
    the holder's PID when another process holds it, with nothing in the folder changed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise BadInput(f"{folder}: in use by another run (process {holder} holds {folder / LOCK}); "
                           f"wait for it to end or pass another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
