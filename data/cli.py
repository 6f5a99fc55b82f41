"""What the data tools share: one-line errors and exit status 2 on bad input."""
import argparse
import sys

from .errors import DataError


class Parser(argparse.ArgumentParser):
    """argparse with the module docstring as help, and usage errors on one line."""

    def __init__(self, doc, **kwargs):
        super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: {message}\n")


def guarded(prog, work):
    """Run work(); a DataError or OSError becomes one line on stderr and exit status 2."""
    try:
        work()
    except (DataError, OSError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    return 0
