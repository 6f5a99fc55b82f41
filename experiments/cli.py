"""The tools' one convention for bad input: one line on stderr naming the problem, exit status 2.

Usage errors come from Parser (argparse) and its argument types; errors found later are
BadInput or the packages' own input errors (BAD_INPUT), turned into that line by run().
Arguments typed as inputs (input_path, existing_file) and as outputs (output_file, ...) are
compared by Parser: no output may be an input, lie inside an input's dataset folder or hold an input.
"""
import argparse
import math
import sys
from pathlib import Path

from data.dataset_dir import read_with, refuse_overlap
from data.errors import DataError
from layers.params import ParamError
from nets.scores import ScoresError
from nets.weights import ModelError


class BadInput(Exception):
    """Bad input found after argument parsing; its message names the file, key or value."""


BAD_INPUT = (BadInput, DataError, ParamError, ModelError, ScoresError, OSError)


class Failed(RuntimeError):
    """Work that failed (a training stage, say) after the input was accepted; the message names
    what failed and where its log is. run_command reports it in one line, exit status 1."""


class Parser(argparse.ArgumentParser):
    """argparse with the tool's docstring as help and usage errors on one line (exit 2)."""

    def __init__(self, doc, **kwargs):
        super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, rest = super().parse_known_args(args, namespace)
        inputs = [p for action in self._typed(INPUT) for given in _given(namespace, action) for p in read_with(given)]
        for action in self._typed(OUTPUT):
            for out in _given(namespace, action):
                try:
                    refuse_overlap(out, inputs)
                except DataError as e:
                    self.error(f"argument {'/'.join(action.option_strings) or action.dest}: {e}")
        return namespace, rest

    def _typed(self, role):
        return [action for action in self._actions if getattr(action.type, "role", None) == role]


INPUT, OUTPUT = "input", "output"


def _given(namespace, action):
    """The paths an argument holds: none, one, or a list (nargs, append)."""
    value = getattr(namespace, action.dest, None)
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def run(prog, work):
    """work() -> exit status (None means 0); bad input becomes one line and exit status 2."""
    try:
        return work() or 0
    except BAD_INPUT as e:
        print(f"{prog}: {' '.join(str(e).split())}", file=sys.stderr)
        return 2


def run_command(prog, produce, table, out):
    """run() for a command that trains stages and writes OUT/report.md: prints the report's
    table, or a failure's one line with exit status 1."""
    def work():
        try:
            rep = produce()
        except Failed as e:
            print(f"{prog}: {e}", file=sys.stderr)
            return 1
        print(table(rep))
        print(f"\nreport: {out / 'report.md'}")

    return run(prog, work)


def _number(convert, test, wanted):
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value
    parse.__name__ = wanted  # argparse names the type in its messages
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
non_negative_float = _number(float, lambda v: math.isfinite(v) and v >= 0, "a non-negative number")


def image_size(text):
    """WIDTHxHEIGHT, as sizes are written in this project (160x120): (width, height)."""
    width, x, height = text.partition("x")
    if not (x and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 160x120, got {text!r}")
    return int(width), int(height)


def _role(role):
    def mark(parse):
        parse.role = role
        return parse
    return mark


@_role(INPUT)
def input_path(text):
    """A file or folder the tool reads (checked by the tool): outputs are kept clear of it."""
    return Path(text)


@_role(INPUT)
def existing_file(text):
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return Path(text)


@_role(OUTPUT)
def output_file(text):
    """A file the tool writes, in a folder that exists: refused now rather than after the work."""
    path = _output(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {path.parent} to write {path.name} in")
    return path


@_role(OUTPUT)
def output_file_mkdir(text):
    """A file the tool writes, making the folders it lacks: only a folder at the path, or a
    file where a folder must be, is refused."""
    path = _output(text)
    _folders_possible(path.parent, text)
    return path


@_role(OUTPUT)
def output_folder(text):
    """A folder the tool writes into, made (with the folders it lacks) when missing."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder to write into")
    _folders_possible(path, text)
    return path


def _output(text):
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file to write")
    return path


def _folders_possible(folder, text):
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{existing} is a file, so {text} cannot be written")


def edges(text):
    """An edge-class spec ("sparse:1,2,4", "window:2"), checked by the sampler's parser."""
    import sampler

    try:
        sampler.parse_edges(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text
