#!/usr/bin/env python
"""Audit the paper's claims on this implementation and print a table of verdicts.

Claims 1-6a are measured here on synthetic tiny models (exact enumeration, the sampler
and the real Caffe loss layer); 6b and 7 are read from a finished replication report
(tools/replicate.py) and are "not run" when there is none. Exit status 0 when every
claim that ran passed, 1 otherwise.

  .venv/bin/python tools/audit.py --quick             # under 3 minutes
  .venv/bin/python tools/audit.py --json audit.json   # the full audit, under 20 minutes
"""
import argparse
import dataclasses
import json
import os
import pathlib
import sys
import textwrap
import time

os.environ.setdefault("GLOG_minloglevel", "2")  # before Caffe loads: no net set-up logs in the table
import numba  # noqa: E402

from audit_claims import SIMULATED, report  # noqa: E402
from audit_claims.common import FAIL, NOT_RUN, PASS, Result  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
COLUMNS = (("#", 3), ("claim", 30), ("test", 52), ("figure", 50), ("verdict", 7))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--quick", action="store_true", help="smaller samples and fewer models (under 3 minutes)")
    p.add_argument("--json", type=pathlib.Path, metavar="OUT", help="also write the rows, with raw numbers, here")
    p.add_argument("--report", type=pathlib.Path, default=REPO / "runs" / "default" / "report.json",
                   help="replication report for claims 6b and 7 (default: runs/default/report.json)")
    p.add_argument("--threads", type=int, default=1,
                   help="Numba threads (default 1: the models are tiny, and on a busy machine "
                        "thread start-up made sweeps 50x slower; the same kernels run either way)")
    args = p.parse_args(argv)
    if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
        p.error(f"--threads must be in 1..{numba.config.NUMBA_NUM_THREADS}")
    return args


def measure(module, quick):
    """module.run(quick), timed; an exception is a FAIL row, so one broken claim cannot hide the rest."""
    start = time.perf_counter()
    try:
        row = module.run(quick=quick)
    except Exception as e:  # noqa: BLE001 - reported in the table, with its type
        row = Result(module.NUMBER, module.CLAIM, "raised an exception",
                     f"{type(e).__name__}: {e}", FAIL)
    row.details["seconds"] = round(time.perf_counter() - start, 2)
    return row


def audit(quick, report_path, log=sys.stderr):
    rows = []
    for i, module in enumerate(SIMULATED, 1):
        print(f"[{i}/{len(SIMULATED)}] {module.CLAIM} ...", file=log, flush=True)
        rows.append(measure(module, quick))
        print(f"      {rows[-1].status} ({rows[-1].details['seconds']:.0f} s)", file=log, flush=True)
    return rows + report.run(report_path)


def table(rows):
    lines = []
    for cells in [[name for name, _ in COLUMNS]] + [[r.number, r.claim, r.test, r.figure, r.status] for r in rows]:
        wrapped = [textwrap.wrap(str(c), width) or [""] for c, (_, width) in zip(cells, COLUMNS)]
        for k in range(max(map(len, wrapped))):
            lines.append("  ".join((w[k] if k < len(w) else "").ljust(width)
                                   for w, (_, width) in zip(wrapped, COLUMNS)).rstrip())
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    numba.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = audit(args.quick, args.report)
    elapsed = time.perf_counter() - start
    print(table(rows))
    ran = [r for r in rows if r.status != NOT_RUN]
    passed = sum(r.status == PASS for r in ran)
    print(f"{passed}/{len(ran)} claims that ran passed, {len(rows) - len(ran)} not run; "
          f"{'quick' if args.quick else 'full'} audit in {elapsed:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"quick": args.quick, "seconds": round(elapsed, 1),
                                         "report": str(args.report),
                                         "rows": [dataclasses.asdict(r) for r in rows]}, indent=2))
    return 0 if passed == len(ran) else 1


if __name__ == "__main__":
    sys.exit(main())
