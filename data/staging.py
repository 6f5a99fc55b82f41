"""Outputs written beside their final place first: `.NAME.partial-PID`, a file or a folder named
after the writing process, renamed into place when whole.

A process killed before the rename cannot remove its partial output; the next writer of NAME
removes the ones whose process has ended. A partial folder is removed only when it holds the
MARKER that writer made first, naming its process: a folder of that name is otherwise left alone.
"""
import os
import re
import shutil
from pathlib import Path

MARKER = ".partial-writer"


def partial_path(out):
    """This process's partial path for `out`."""
    out = Path(out)
    return out.with_name(f".{out.name}.partial-{os.getpid()}")


def make_partial_folder(out):
    """An empty partial folder for `out` holding only its MARKER (remove it before the rename)."""
    folder = partial_path(out)
    shutil.rmtree(folder, ignore_errors=True)  # this process's own, from an earlier call
    folder.mkdir(parents=True)
    (folder / MARKER).write_text(f"{os.getpid()}\n")
    return folder


def stale_partials(out):
    """The partial files and marked folders of `out` whose writing process no longer runs."""
    out = Path(out)
    name = re.compile(re.escape(f".{out.name}.partial-") + r"([1-9][0-9]*)")
    found = []
    for path in out.parent.iterdir() if out.parent.is_dir() else ():
        match = name.fullmatch(path.name)
        if not match or _alive(int(match.group(1))):
            continue
        if path.is_symlink() or path.is_file():
            found.append(path)
        elif path.is_dir() and _marker_pid(path) == match.group(1):
            found.append(path)
    return found


def remove_stale_partials(out):
    for path in stale_partials(out):
        remove_partial(path)


def remove_partial(path):
    """Remove one of stale_partials (a folder whole: its writer made everything in it)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _marker_pid(folder):
    try:
        return (folder / MARKER).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; not a PID: not provably dead
        pass
    return True
