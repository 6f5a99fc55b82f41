"""Running the claims: each simulated claim timed (an exception is a FAIL row), then the rows
read from a replication report and from a learning comparison's report, and the verdict table."""
import dataclasses
import json
import sys
import tempfile
import textwrap
import time

from ..cli import BadInput
from . import SIMULATED, learning, report
from .common import FAIL, NOT_RUN, PASS, Result

COLUMNS = (("#", 3), ("claim", 30), ("test", 52), ("figure", 50), ("verdict", 7))


def measure(module, quick):
    """module.run(quick), timed; an exception is a FAIL row, so one broken claim cannot hide the rest."""
    start = time.perf_counter()
    try:
        row = module.run(quick=quick)
    except Exception as e:  # noqa: BLE001 - reported in the table, with its type
        row = Result(module.NUMBER, module.CLAIM, "raised an exception", f"{type(e).__name__}: {e}", FAIL)
    row.details["seconds"] = round(time.perf_counter() - start, 2)
    return row


def audit(quick, report_path, log, compare_path):
    """Every claim's row; progress lines go to the file `log`."""
    rows = []
    for i, module in enumerate(SIMULATED, 1):
        print(f"[{i}/{len(SIMULATED)}] {module.CLAIM} ...", file=log, flush=True)
        rows.append(measure(module, quick))
        print(f"      {rows[-1].status} ({rows[-1].details['seconds']:.0f} s)", file=log, flush=True)
    return rows + report.run(report_path) + learning.run(compare_path)


def run_audit(quick, report_path, compare_path, json_out=None, threads=1):
    """Every claim's row (inputs checked first), the seconds it took, and, with json_out, the rows
    with their raw numbers written there."""
    import numba

    check_paths({"--report": report_path, "--compare-report": compare_path}, json_out)
    numba.set_num_threads(threads)
    start = time.perf_counter()
    rows = audit(quick, report_path, sys.stderr, compare_path)
    elapsed = time.perf_counter() - start
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"quick": quick, "seconds": round(elapsed, 1), "report": str(report_path),
                                        "compare_report": str(compare_path),
                                        "rows": [dataclasses.asdict(r) for r in rows]}, indent=2))
    return rows, elapsed


def check_paths(reports, json_out):
    """BadInput, before any measuring, for a report ({option: path}) that is there but cannot be read
    as a JSON object, and for a --json whose folder cannot be written: found after the measuring,
    either would lose its table."""
    for option, path in reports.items():
        try:
            report.load(path)
        except report.ReportError as e:
            raise BadInput(f"{option}: {e}") from None
    if json_out:
        folder = next(p for p in (json_out.parent, *json_out.parents) if p.exists())  # made when missing
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise BadInput(f"--json {json_out}: cannot write in {folder} ({e.strerror})") from None


def table(rows):
    lines = []
    for cells in [[name for name, _ in COLUMNS]] + [[r.number, r.claim, r.test, r.figure, r.status] for r in rows]:
        wrapped = [textwrap.wrap(str(c), width) or [""] for c, (_, width) in zip(cells, COLUMNS)]
        for k in range(max(map(len, wrapped))):
            lines.append("  ".join((w[k] if k < len(w) else "").ljust(width)
                                   for w, (_, width) in zip(wrapped, COLUMNS)).rstrip())
        lines.append("")
    return "\n".join(lines)


def summary(rows):
    """(passed, ran): claims that passed, and claims that ran (not 'not run')."""
    ran = [r for r in rows if r.status != NOT_RUN]
    return sum(r.status == PASS for r in ran), len(ran)
