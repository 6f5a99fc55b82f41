"""Another commit's sampler package, loaded beside this one, for the benchmarks' paired runs
(`--baseline DIR`: DIR/sampler, e.g. from `git archive BASE sampler | tar -x -C DIR`)."""
import importlib.util
import os
import sys


def check(parser, directory):
    """parser.error unless DIR/sampler is a package (the benchmarks' --baseline argument)."""
    if directory and not os.path.isfile(os.path.join(directory, "sampler", "__init__.py")):
        parser.error(f"--baseline: no sampler package in {directory!r}")


def load(directory):
    """The sampler package in DIR/sampler, imported as the module `sampler_baseline`."""
    spec = importlib.util.spec_from_file_location("sampler_baseline", os.path.join(directory, "sampler", "__init__.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
