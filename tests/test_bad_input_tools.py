"""Every command-line tool, given malformed arguments and files: exit status 2, exactly one
line on stderr naming the argument, file or value at fault, no traceback, and nothing in the
working folder changed (a refused output is not created; a foreign file stays as it was).

The cases run in-process (conftest.run_tool) in a module-wide working folder of small fixtures,
with the tool's working directory there, so relative defaults (prototxt/, runs/, datasets/)
land there too; a few run again as real processes.
"""
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, run_tool


pytestmark = pytest.mark.caffe

TOOLS = sorted(p.stem for p in (REPO / "tools").glob("*.py"))
H, W = 24, 32
EDGES = "sparse:1,2"
JUNK = b"not what you think\n"


def case(argv, *names, out=None):
    """A refused invocation: argv (shell words), the texts its one line must contain (the
    argument, file or value at fault), and the output it declares (must not appear)."""
    return pytest.param(shlex.split(argv), names, out, id=argv or "(none)")


EVAL = "--model deploy.prototxt --weights model.caffemodel --data ds/test.txt"
FOREST = "ds --trees 1 --pixels 20 --features 5 --workers 1"
IMPORT = "--train bundle.npy --test bundle.npy"
TUNE = "--stage separate --lr 0.001 --work w"
SCORES = "--weights cnn.caffemodel --data ds/train.txt --out sc"
SEG = "--model deploy.prototxt --weights model.caffemodel --out seg"
BENCH = "--model deploy.prototxt --weights model.caffemodel"

CASES = {
    "audit": [
        case("--bogus", "--bogus"),
        case("--threads 0", "--threads", "'0'"),
        case("--threads 100000", "--threads", "'100000'"),
        case("--threads nan", "--threads", "'nan'"),
        case("--json", "--json"),
        case("--json emptydir", "--json", "emptydir"),
        case("--json notes.txt/a.json", "--json", "notes.txt"),
        case("--quick --json notes.txt --report notes.txt", "--json", "is the input notes.txt"),
        case("--quick --json ds/audit.json --compare-report ds/test.h5", "ds/audit.json", out="ds/audit.json"),
    ],
    "baseline_forest": [
        case("", "dataset"),
        case(f"{FOREST} --bogus", "--bogus"),
        case(f"{FOREST} --trees 0", "--trees", "'0'"),
        case(f"{FOREST} --pixels -5", "--pixels", "'-5'"),
        case(f"{FOREST} --seed -1", "--seed", "'-1'"),
        case(f"{FOREST} --features nan", "--features", "'nan'"),
        case(f"{FOREST} --train-images 2.5", "--train-images", "'2.5'"),
        case("missing --workers 1", "missing/train.h5"),
        case("notes.txt --workers 1", "notes.txt/train.h5"),
        case("junkds --workers 1", "junkds/train.h5", "HDF5"),
        case(f"{FOREST} --json emptydir", "--json", "emptydir"),
        case(f"{FOREST} --json missing/f.json", "--json", "missing", out="missing"),
        case(f"{FOREST} --json ds/test.h5", "--json", "ds/test.h5", "lies inside the input ds"),
        case(f"{FOREST} --json ds/forest.json", "--json", "ds/forest.json", "lies inside", out="ds/forest.json"),
        case(f"{FOREST} --json testlink.h5", "--json", "testlink.h5"),
    ],
    "bench_lbp": [
        case("--bogus", "--bogus"),
        case("--batch 0", "--batch"),
        case("--height -3", "--height"),
        case("--repeats x", "--repeats"),
        case("--baseline missing", "--baseline", "missing"),
    ],
    "bench_meanfield": [
        case("--bogus", "--bogus"),
        case("--batch 0", "--batch"),
        case("--labels -2", "--labels"),
        case("--repeats x", "--repeats"),
    ],
    "bench_sampler": [
        case("--bogus", "--bogus"),
        case("--labels 1", "--labels"),
        case("--batch 0", "--batch"),
        case("--threads 0", "--threads"),
        case("--backend bogus", "--backend", "'bogus'"),
        case("--baseline missing", "--baseline", "missing"),
    ],
    "contact_sheet": [
        case("ds/train.h5", "--out"),
        case("--out s.png", "split"),
        case("missing.h5 --out s.png", "missing.h5", out="s.png"),
        case("junk.h5 --out s.png", "junk.h5", out="s.png"),
        case("ds --out s.png", "ds", out="s.png"),
        case("junk.txt --out s.png", "junk.txt", out="s.png"),
        case("ds/train.h5 --out s.png --count 0", "--count", "'0'"),
        case("ds/train.h5 --out s.png --start -1", "--start", "'-1'"),
        case("ds/train.h5 --out s.png --columns nan", "--columns", "'nan'"),
        case("ds/train.h5 --out s.png --scale 0", "--scale", "'0'"),
        case("ds/train.h5 --out s.png --start 100", "ds/train.h5", "100", out="s.png"),
        case("ds/train.h5 --out missing/s.png", "missing", out="missing"),
        case("ds/train.h5 --out emptydir", "--out", "emptydir"),
        case("ds/train.h5 --out ''", "--out", "is a folder"),
        case("mixed.txt --out s.png", "mixed.txt", "othersize.h5 holds 16x16", "32x24", out="s.png"),
        case("noimages.h5 --out s.png", "noimages.h5", "no images", out="s.png"),
        case("ds/train.h5 --out ds/train.h5", "--out", "ds/train.h5", "is the input"),
        case("ds/train.txt --out ds/train.h5", "--out", "ds/train.h5", "is the input"),
        case("ds/train.txt --out ./ds/../ds/sheet.png", "--out", "sheet.png", "lies inside", out="ds/sheet.png"),
        case("testlink.h5 --out ds/test.h5", "--out", "ds/test.h5"),
        case("ds/test.h5 --out testlink.h5", "--out", "testlink.h5"),
    ],
    "eval": [
        case("--weights model.caffemodel --data ds/test.txt", "--model"),
        case(f"{EVAL} --bogus", "--bogus"),
        case(f"{EVAL} --limit -1", "--limit", "'-1'"),
        case(f"{EVAL} --limit 0", "--limit", "'0'"),
        case(f"{EVAL} --batch-size 0", "--batch-size", "'0'"),
        case(f"{EVAL} --batch-size -3", "--batch-size", "'-3'"),
        case(f"{EVAL} --burn-in -1", "--burn-in", "'-1'"),
        case(f"{EVAL} --samples 0", "--samples", "'0'"),
        case(f"{EVAL} --seed x", "--seed", "'x'"),
        case(f"{EVAL} --inference exact", "--inference", "'exact'"),
        case(EVAL.replace("deploy.prototxt", "missing.prototxt"), "missing.prototxt"),
        case(EVAL.replace("deploy.prototxt", "junk.prototxt"), "junk.prototxt"),
        case(EVAL.replace("deploy.prototxt", "model.caffemodel"), "model.caffemodel"),
        case(EVAL.replace("deploy.prototxt", "emptydir"), "emptydir"),
        case(EVAL.replace("deploy.prototxt", "empty.prototxt"), "empty.prototxt", "'scores'"),
        case(EVAL.replace("deploy.prototxt", "unknown.prototxt"), "unknown.prototxt", "'Nope'"),
        case(EVAL.replace("deploy.prototxt", "nobottom.prototxt"), "nobottom.prototxt", "'nope'"),
        case(EVAL.replace("deploy.prototxt", "nomodule.prototxt"), "nomodule.prototxt", "nope.Layer"),
        case(EVAL.replace("model.caffemodel", "junk.caffemodel"), "junk.caffemodel"),
        case(EVAL.replace("model.caffemodel", "deploy.prototxt"), "deploy.prototxt"),
        case(EVAL.replace("model.caffemodel", "snapshot.caffemodel"), "snapshot.caffemodel", "'conv1'"),
        case(EVAL.replace("model.caffemodel", "cnn.caffemodel") + " --inference gibbs", "cnn.caffemodel", "crf"),
        case(EVAL.replace("ds/test.txt", "junk.h5"), "junk.h5"),
        case(EVAL.replace("ds/test.txt", "junk.npy"), "junk.npy"),
        case(EVAL.replace("ds/test.txt", "ds"), "ds"),
        case(f"{EVAL} --scores-blob nope", "'nope'"),
        case(f"{EVAL} --json emptydir", "--json", "emptydir"),
        case(f"{EVAL} --json notes.txt/e.json", "--json", "notes.txt"),
        case(f"{EVAL} --save-predictions notes.txt", "--save-predictions", "notes.txt"),
        case(EVAL.replace("ds/test.txt", "noimages.h5"), "noimages.h5", "no images"),
        case(EVAL.replace("ds/test.txt", "mixed.txt"), "mixed.txt", "othersize.h5 holds 16x16", "32x24"),
        case(EVAL.replace("ds/test.txt", "nobody.h5") + " --json nb.json", "nobody.h5", "no body pixels", out="nb.json"),
        case(EVAL.replace("deploy.prototxt", "crf5.prototxt"), "crf5.prototxt", "num_labels 5", "20 channels"),
        case(EVAL.replace("deploy.prototxt", "crf5.prototxt") + " --inference gibbs", "crf5.prototxt", "num_labels 5"),
        case(f"{EVAL} --json ds/test.h5", "--json", "ds/test.h5", "is the input"),
        case(f"{EVAL} --json model.caffemodel", "--json", "model.caffemodel", "is the input"),
        case(f"{EVAL} --json deploy.prototxt", "--json", "deploy.prototxt"),
        case(f"{EVAL} --json testlink.h5", "--json", "testlink.h5"),
        case(f"{EVAL} --json hardlink.caffemodel", "--json", "hardlink.caffemodel"),
        case(f"{EVAL} --json ds/eval.json", "--json", "ds/eval.json", "lies inside", out="ds/eval.json"),
        case(f"{EVAL} --save-predictions ds", "--save-predictions", "ds"),
        case(f"{EVAL} --save-predictions ds/pred", "--save-predictions", "ds/pred", out="ds/pred"),
        case(f"{EVAL} --save-predictions .", "--save-predictions", "contains the input"),
        case(f"{EVAL} --save-predictions userpred", "userpred/00000.png", "predictions.json"),
        case(f"{EVAL} --save-predictions mine", "mine/notes.txt"),
    ],
    "gated_start": [
        case("snapshot.caffemodel", "--out"),
        case("--out g.caffemodel", "snapshot"),
        case("missing.caffemodel --out g.caffemodel", "missing.caffemodel", out="g.caffemodel"),
        case("cnn.caffemodel --out g.caffemodel", "cnn.caffemodel", "no CRF layer 'crf'", out="g.caffemodel"),
        case("junk.caffemodel --out g.caffemodel", "junk.caffemodel", out="g.caffemodel"),
        case("snapshot.caffemodel --tables 0 --out g.caffemodel", "--tables", "'0'", out="g.caffemodel"),
        case("snapshot.caffemodel --out snapshot.caffemodel", "snapshot.caffemodel"),
        case("snapshot.caffemodel --out notes.txt", "notes.txt", "not a model exported"),
    ],
    "export_model": [
        case("snapshot.caffemodel", "--out"),
        case("--out m.caffemodel", "snapshot"),
        case("missing.caffemodel --out m.caffemodel", "missing.caffemodel", out="m.caffemodel"),
        case("emptydir --out m.caffemodel", "emptydir", out="m.caffemodel"),
        case("junk.caffemodel --out m.caffemodel", "junk.caffemodel", out="m.caffemodel"),
        case("deploy.prototxt --out m.caffemodel", "deploy.prototxt", out="m.caffemodel"),
        case("snapshot.caffemodel --out notes.txt", "notes.txt"),
        case("snapshot.caffemodel --out snapshot.caffemodel", "snapshot.caffemodel"),
        case("snapshot.caffemodel --out emptydir", "emptydir"),
        case("snapshot.caffemodel --out missing/m.caffemodel", "missing", out="missing"),
        case("snapshot.caffemodel --out m.caffemodel", "m.caffemodel", "--trained-at WxH", out="m.caffemodel"),
        case("snapshot.caffemodel --out m.caffemodel --trained-at 32", "--trained-at", "'32'"),
        case("snapshot.caffemodel --out m.caffemodel --trained-at 0x24", "--trained-at", "'0x24'"),
        case("snapshot.caffemodel --out m.caffemodel --trained-at 32x24 --data ds/train.txt", "--data",
             "not allowed with argument --trained-at"),
        case("snapshot.caffemodel --out m.caffemodel --data junk.h5", "junk.h5", out="m.caffemodel"),
        case("snapshot.caffemodel --out m.caffemodel --data missing.txt", "missing.txt", out="m.caffemodel"),
    ],
    "segment": [
        case(f"{SEG}", "INPUT"),
        case("--weights model.caffemodel --out seg frame.png", "--model"),
        case(f"{SEG} frame.png --inference exact", "--inference", "'exact'"),
        case(f"{SEG} frame.png --depth-scale 0", "--depth-scale", "'0'"),
        case(f"{SEG} frame.png --samples 0", "--samples", "'0'"),
        case(f"{SEG} frame.png --hfov 200", "--hfov", "200"),
        case(f"{SEG} frame.png --hfov 70", "model.caffemodel", "no field of view", out="seg"),
        case(f"{SEG} missing.png", "missing.png", out="seg"),
        case(f"{SEG} junk.png", "junk.png", "unreadable", out="seg"),
        case(f"{SEG} junk.npy", "junk.npy", "unreadable", out="seg"),
        case(f"{SEG} junk.exr", "junk.exr", "unreadable OpenEXR", out="seg"),
        case(f"{SEG} notes.txt", "notes.txt", "not a depth image", out="seg"),
        case(f"{SEG} emptydir", "emptydir", "no depth images", out="seg"),
        case(f"{SEG} rgb.png", "rgb.png", "16-bit greyscale", out="seg"),
        case(f"{SEG} frame.png millimetres.npy", "millimetres.npy", "no depth between 0.5 and 6 m",
             "median reading 6000 m", out="seg"),
        case(f"{SEG} nobody.png", "nobody.png", "no reading at all", out="seg"),
        case(f"{SEG} nan.npy", "nan.npy", "nan m at row 6, column 12", out="seg"),
        case(f"{SEG} frame.png frames", "frames/frame.npy", "frame.png", "frame_labels.png", out="seg"),
        case(SEG.replace("model.caffemodel", "noscale.caffemodel") + " frame.png", "noscale.caffemodel",
             "records no training image size", "--trained-at WxH", out="seg"),
        case(SEG.replace("model.caffemodel", "cnn.caffemodel") + " frame.png", "cnn.caffemodel", "'crf'",
             out="seg"),
        case(SEG.replace("model.caffemodel", "snapshot.caffemodel") + " frame.png", "snapshot.caffemodel", "'conv1'",
             out="seg"),
        case(SEG.replace("model.caffemodel", "missing.caffemodel") + " frame.png", "missing.caffemodel", out="seg"),
        case(SEG.replace("deploy.prototxt", "junk.prototxt") + " frame.png", "junk.prototxt", out="seg"),
        case(SEG.replace("deploy.prototxt", "crf5.prototxt") + " frame.png", "crf5.prototxt", "num_labels 5",
             out="seg"),
        case(f"{SEG.replace('seg', 'frames')} frames", "--out", "is the input frames"),
        case(f"{SEG.replace('seg', 'frames/seg')} frames", "--out", "lies inside the input frames",
             out="frames/seg"),
        case(f"{SEG.replace('seg', '.')} frame.png", "--out", "contains the input frame.png"),
        case(f"{SEG.replace('seg', 'notes.txt')} frame.png", "--out", "notes.txt"),
        case(f"{SEG.replace('seg', 'mine')} frame.png", "mine/notes.txt", "not writing into mine"),
        case(f"{SEG.replace('seg', 'userseg')} frame.png", "userseg/frame_labels.png", "segment.json"),
    ],
    "bench_segment": [
        case("--weights model.caffemodel", "--model"),
        case(f"{BENCH} --images 0", "--images", "'0'"),
        case(f"{BENCH} --sizes 160", "--sizes", "'160'"),
        case(f"{BENCH} --inference exact", "--inference", "'exact'"),
        case(BENCH.replace("model.caffemodel", "noscale.caffemodel"), "noscale.caffemodel", "--trained-at WxH"),
        case(BENCH.replace("deploy.prototxt", "missing.prototxt"), "missing.prototxt"),
    ],
    "import_dataset": [
        case("--train bundle.npy --out new", "--test"),
        case(f"{IMPORT} --out new --max-colour-distance nan", "colour distance", "nan", out="new"),
        case(f"{IMPORT} --out new --max-colour-distance -1", "colour distance", "-1", out="new"),
        case(f"{IMPORT} --out new --depth-scale 0", "depth scale", "0", out="new"),
        case(f"{IMPORT} --out new --depth-scale x", "--depth-scale", "'x'"),
        case("--train bundle0.npy --test bundle.npy --out new", "bundle0.npy", out="new"),
        case("--train junk.npy --test bundle.npy --out new", "junk.npy", out="new"),
        case("--train missing.npy --test bundle.npy --out new", "missing.npy", out="new"),
        case("--train emptydir --test bundle.npy --out new", "emptydir", out="new"),
        case("--train bundle.npy --test junkimages --out new", "junkimages", out="new"),
        case(f"{IMPORT} --out mine", "mine"),
        case(f"{IMPORT} --out dsplus", "dsplus", "foreign.txt"),
        case(f"{IMPORT} --out notes.txt", "notes.txt"),
        case("--train junkimages --test bundle.npy --out junkimages", "junkimages"),
        case("--train negdepth --test bundle.npy --out new", "negdepth/a_depth.png", "-7 mm", out="new"),
    ],
    "make_dataset": [
        case("--train 2", "--out"),
        case("--out new --train 0", "--train", "'0'"),
        case("--out new --test -1", "--test", "'-1'"),
        case("--out new --height 4 --width 8", "4", out="new"),
        case("--out new --width nan", "--width", "'nan'"),
        case("--out new --seed -1", "--seed", "'-1'"),
        case("--out new --workers 0", "--workers", "'0'"),
        case("--out mine --train 1 --test 1 --height 8 --width 8", "mine", "no meta.json"),
        case("--out dsplus --train 1 --test 1 --height 8 --width 8", "dsplus", "foreign.txt"),
        case("--out notes.txt --train 1 --test 1 --height 8 --width 8", "notes.txt"),
        case("--out '' --train 1 --test 1 --height 8 --width 8", "not a dataset folder"),
        case("--out new --height 100000 --width 100000", "100000x100000", "at most 4096", out="new"),
        case("--out new --train 1000000 --height 4096 --width 4096", "4096x4096", "GiB of memory", out="new"),
    ],
    "make_prototxt": [
        case("--bogus", "--bogus"),
        case("--edges window:1000000", "--edges", "window:1000000", out="prototxt"),
        case("--edges ring:3", "--edges", "ring:3", out="prototxt"),
        case("--edges sparse:1,1", "--edges", "duplicate", out="prototxt"),
        case("--iters 1,2", "--iters", "'1,2'"),
        case("--iters a,b,c", "--iters", "'a,b,c'"),
        case("--num-images 0", "--num-images", "'0'"),
        case("--height -1", "--height", "'-1'"),
        case("--batch-size 1.5", "--batch-size", "'1.5'"),
        case("--batch-size 8 --num-images 4", "--batch-size 8", "--num-images 4"),
        case("--seed -1", "--seed", "'-1'"),
        case("--out notes.txt", "notes.txt"),
        case("--out notes.txt/nets", "notes.txt"),
    ],
    "plot_theta": [
        case("--out t.png", "--weights"),
        case("--weights missing.caffemodel --out t.png", "missing.caffemodel", out="t.png"),
        case("--weights emptydir --out t.png", "emptydir", out="t.png"),
        case("--weights junk.caffemodel --out t.png", "junk.caffemodel", out="t.png"),
        case("--weights deploy.prototxt --out t.png", "deploy.prototxt", out="t.png"),
        case("--weights model.caffemodel --layer nope --out t.png", "'nope'", out="t.png"),
        case("--weights model.caffemodel --layer conv1 --out t.png", "'conv1'", out="t.png"),
        case("--weights model.caffemodel --out missing/dir/x.png", "missing/dir", out="missing"),
        case("--weights model.caffemodel --out emptydir", "emptydir"),
        case("--weights model.caffemodel --out model.caffemodel", "--out", "model.caffemodel", "is the input"),
        case("--weights model.caffemodel --out hardlink.caffemodel", "--out", "hardlink.caffemodel"),
    ],
    "replicate": [
        case("--bogus", "--bogus"),
        case("--scale huge", "--scale", "'huge'"),
        case("--edges window:1000000", "--edges", "window:1000000", out="runs"),
        case("--seed -1", "--seed", "'-1'"),
        case("--scale tiny --out notes.txt --data new", "notes.txt", out="new"),
        case("--scale tiny --out notes.txt/run --data new", "notes.txt", out="new"),
        case("--scale tiny --out run --data mine", "mine", out="run"),
        case("--scale tiny --out run --data ds", "ds", out="run"),
        case("--scale tiny --out run --data notes.txt", "notes.txt", out="run"),
        case("--scale tiny --out run --data badmeta", "badmeta", "meta.json", out="run"),
        case("--scale tiny --out badrun --data new", "badrun", "settings.json", out="new"),
        case("--scale tiny --out mine --data new", "mine", out="new"),
    ],
    "tune": [
        case("--lr 0.001", "--stage"),
        case("--stage cnn", "--lr"),
        case("--stage best --lr 0.001", "--stage", "'best'"),
        case("--stage cnn --lr 0", "--lr", "'0'"),
        case("--stage cnn --lr nan", "--lr", "'nan'"),
        case("--stage cnn --lr -0.001", "--lr", "'-0.001'"),
        case(f"{TUNE} --run missing", "missing", "settings.json", out="w"),
        case(f"{TUNE} --run mine", "mine", "settings.json", out="w"),
        case(f"{TUNE} --run notes.txt", "notes.txt", "settings.json", out="w"),
        case(f"{TUNE} --run mine --record notes.txt", "notes.txt", "not a tuning record", out="w"),
        case(f"{TUNE} --run mine --record emptydir", "--record", "emptydir", out="w"),
        case(f"{TUNE} --run mine --work notes.txt", "--work", "notes.txt"),
        case(f"{TUNE} --run badrun", "badrun/settings.json", "not a run's settings", out="w"),
        case(f"{TUNE} --run listrun", "listrun/settings.json", "list", out="w"),
        case(f"{TUNE} --run hugerun", "hugerun/settings.json", "'huge'", out="w"),
    ],
    "frozen_scores": [
        case("--data ds/train.txt --out sc", "--weights"),
        case(f"{SCORES} --bogus", "--bogus"),
        case(f"{SCORES} --batch-size 0", "--batch-size", "'0'"),
        case(SCORES.replace("cnn.caffemodel", "missing.caffemodel"), "missing.caffemodel"),
        case(SCORES.replace("cnn.caffemodel", "junk.caffemodel"), "junk.caffemodel", out="sc"),
        case(SCORES.replace("cnn.caffemodel", "snapshot.caffemodel"), "snapshot.caffemodel", "'conv1'", out="sc"),
        case(SCORES.replace("ds/train.txt", "junk.h5"), "junk.h5", out="sc"),
        case(SCORES.replace("ds/train.txt", "missing.txt"), "missing.txt"),
        case(SCORES.replace("--out sc", "--out notes.txt"), "--out", "notes.txt"),
        case(SCORES.replace("--out sc", "--out mine"), "mine", "not a folder of frozen CNN scores"),
        case(SCORES.replace("ds/train.txt", "mixed.txt"), "mixed.txt", "othersize.h5 holds 16x16", out="sc"),
        case(SCORES.replace("ds/train.txt", "noimages.h5"), "noimages.h5", "no images", out="sc"),
        case(SCORES.replace("--out sc", "--out ds"), "--out", "ds"),
        case(SCORES.replace("--out sc", "--out ds/sc"), "--out", "ds/sc", out="ds/sc"),
        case(SCORES.replace("--out sc", "--out scdir"), "scdir", "part-00001.h5 is not a plain file"),
        case(SCORES.replace("--out sc", "--out scextra"), "scextra", "part-00009.h5"),
        case(SCORES.replace("--out sc", "--out sclink"), "sclink", "part-00000.h5 is not a plain file"),
    ],
    "compare_learning": [
        case("--bogus", "--bogus"),
        case("--scale huge", "--scale", "'huge'"),
        case("--scale tiny --run missing --out cmp", "missing", out="cmp"),
        case("--scale tiny --run mine --out cmp", "mine", out="cmp"),
        case("--scale tiny --run notes.txt --out cmp", "notes.txt", out="cmp"),
        case("--scale tiny --run mine --out notes.txt", "notes.txt"),
        case("--scale tiny --run mine --out mine", "--out", "is the input mine"),
    ],
    "bench_layers": [
        case("--bogus", "--bogus"),
        case("--labels 1", "--labels"),
        case("--iterations 0", "--iterations", "'0'"),
        case("--edges ring:2", "--edges", "ring:2"),
        case("--threads 0", "--threads", "'0'"),
        case("--batch nan", "--batch", "'nan'"),
    ],
}


# Silently wrong results, refused instead (issue 23): a folder another process trains into (this
# process holds lockedrun's lock: silent_inputs), a dataset of another image size or with labels
# Caffe cannot take, weights holding NaN or Inf.
HOLDER = f"process {os.getpid()} holds"
for tool, cases in {
    "replicate": [
        case("--scale tiny --out lockedrun --data new", "lockedrun", HOLDER, out="new"),
        case("--scale tiny --out run --data wrongsize", "wrongsize", "32x24 (WxH)", "wants 64x48", out="run"),
        case("--scale tiny --out run --data labels20", "labels20/train.h5", "holds 20;", out="run"),
        case("--scale tiny --out run --data labelsneg", "labelsneg/test.h5", "holds -1;", out="run"),
    ],
    "tune": [
        case("--stage separate --lr 0.001 --run fakerun --work lockedrun --record r.json", "lockedrun", HOLDER,
             out="r.json"),
        case("--stage separate --lr 0.001 --run labelrun --work w --record r.json", "part-00000.h5", "holds 255;",
             out="w"),
        case("--stage separate --tables 3 --lr 0.001 --run fakerun --work w --record r.json", "--tables 3",
             "only the gated stages", out="w"),
    ],
    "compare_learning": [case("--scale tiny --run fakerun --out lockedrun", "lockedrun", HOLDER)],
    "eval": [
        case(EVAL.replace("model.caffemodel", "nancnn.caffemodel"), "nancnn.caffemodel", "'conv1' blob 0 holds nan"),
        case(EVAL.replace("model.caffemodel", "nancnn.caffemodel") + " --inference gibbs", "nancnn.caffemodel",
             "'conv1' blob 0"),
        case(EVAL.replace("model.caffemodel", "inftheta.caffemodel") + " --inference gibbs", "inftheta.caffemodel",
             "'crf' blob 0 holds inf"),
        case(EVAL.replace("ds/test.txt", "labels20/train.txt"), "labels20/train.h5", "holds 20;"),
    ],
    "frozen_scores": [case(SCORES.replace("cnn.caffemodel", "nancnn.caffemodel"), "nancnn.caffemodel", "'conv1'",
                           out="sc")],
    "export_model": [case("nansnapshot.caffemodel --out m.caffemodel", "nansnapshot.caffemodel", "'crf' blob 0",
                          out="m.caffemodel")],
    "plot_theta": [case("--weights inftheta.caffemodel --out t.png", "inftheta.caffemodel", "'crf' blob 0",
                        out="t.png")],
}.items():
    CASES[tool] = CASES[tool] + cases

@pytest.fixture(scope="module")
def workdir(tmp_path_factory, pycaffe):
    """Small real inputs for the cases to get past the first checks, and foreign files."""
    import data
    from nets import crf
    from nets.export import export_model
    from nets.prototxt import deploy_net
    from nets.runtime import net_from_text

    ws = tmp_path_factory.mktemp("bad_input")
    data.make_dataset(ws / "ds", train=4, test=2, height=H, width=W, seed=0)
    settings = crf.config(EDGES, 4)
    (ws / "deploy.prototxt").write_text(deploy_net(True, H, W, settings))
    net_from_text(deploy_net(True, H, W, settings), pycaffe.TEST).save(str(ws / "noscale.caffemodel"))
    export_model(ws / "noscale.caffemodel", ws / "model.caffemodel", {"height": H, "width": W})
    net_from_text(deploy_net(False, H, W, settings), pycaffe.TEST).save(str(ws / "cnn.caffemodel"))
    net_from_text(str(crf.loss_net((2, 20, H, W), settings).to_proto()), pycaffe.TEST).save(
        str(ws / "snapshot.caffemodel"))
    net = 'layer { name: "depth" type: "Input" top: "depth" input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }\n'
    (ws / "empty.prototxt").write_text("")
    (ws / "unknown.prototxt").write_text(net.replace('"Input"', '"Nope"'))
    (ws / "nobottom.prototxt").write_text(net + 'layer { name: "r" type: "ReLU" bottom: "nope" top: "scores" }\n')
    (ws / "nomodule.prototxt").write_text(net + 'layer { name: "p" type: "Python" bottom: "depth" top: "scores" '
                                          'python_param { module: "nope" layer: "Layer" } }\n')
    for name in ("junk.txt", "junk.caffemodel", "junk.h5", "junk.prototxt", "junk.npy", "notes.txt"):
        (ws / name).write_bytes(JUNK)
    for folder in ("emptydir", "mine", "junkds", "junkimages", "badmeta", "badrun"):
        (ws / folder).mkdir()
    (ws / "mine" / "notes.txt").write_bytes(JUNK)
    (ws / "junkds" / "train.h5").write_bytes(JUNK)
    (ws / "junkds" / "train.txt").write_text("junkds/train.h5\n")
    (ws / "junkimages" / "a_depth.npy").write_bytes(JUNK)
    (ws / "junkimages" / "a_label.png").write_bytes(JUNK)
    (ws / "badmeta" / "meta.json").write_text("{not json")
    (ws / "badrun" / "settings.json").write_text("{not json")
    (ws / "testlink.h5").symlink_to(ws / "ds" / "test.h5")
    (ws / "hardlink.caffemodel").hardlink_to(ws / "model.caffemodel")
    (ws / "userpred").mkdir()  # a user's folder that looks like saved predictions, without the manifest
    for name in ("00000.png", "predictions.npy"):
        (ws / "userpred" / name).write_bytes(JUNK)
    frozen_scores(ws, "scdir", "scextra", "sclink")
    (ws / "scdir" / "part-00001.h5").mkdir()  # a folder named like a part, holding a user's file
    (ws / "scdir" / "part-00001.h5" / "mine.txt").write_bytes(JUNK)
    (ws / "scextra" / "part-00009.h5").write_bytes(JUNK)  # named like a part, not one train.txt lists
    (ws / "sclink" / "part-00000.h5").unlink()
    (ws / "sclink" / "part-00000.h5").symlink_to(ws / "notes.txt")
    inputs_that_crashed(ws)
    depth_images(ws)
    shutil.copytree(ws / "ds", ws / "dsplus")
    (ws / "dsplus" / "foreign.txt").write_bytes(JUNK)
    depth, label = np.full((2, 6, 8), 6.0, np.float32), np.full((2, 6, 8), 19)
    for name, n in (("bundle.npy", 2), ("bundle0.npy", 0)):
        with open(ws / name, "wb") as f:
            for a in (depth[:n], label[:n], np.zeros((0, 3), np.int32), np.zeros(0, np.int32)):
                np.save(f, a)
    return ws


def frozen_scores(ws, *names):
    """Real scores folders of the CNN on ds/train.txt, written by the library as the tool would."""
    import data
    from nets import crf
    from nets.prototxt import deploy_net
    from nets.scores import SHARD, write_scores

    split = data.read_split(ws / "ds" / "train.txt")
    assert len(split["depth"]) <= SHARD  # one part each: part-00000.h5
    for name in names:
        write_scores(deploy_net(False, H, W, crf.config(EDGES, 4)), ws / "cnn.caffemodel", split, ws / name)


def inputs_that_crashed(ws):
    """Inputs that ended in a traceback (issue 23): an .h5 of no images, a list of two image sizes,
    images without body pixels, a CRF layer of 5 labels on the CNN's 20 channels, run settings that
    are a list or name an unknown scale, a binary report, a negative depth in a NAME_depth.png."""
    import h5py
    from PIL import Image

    from data import labels
    from data.hdf5 import write_split

    with h5py.File(ws / "noimages.h5", "w") as f:
        for key in ("depth", "label"):
            f[key] = np.zeros((0, 1, H, W), np.float32)
        f["index"] = np.zeros(0, np.float32)
    with h5py.File(ws / "othersize.h5", "w") as f:  # chains 2 and 3: after ds/test.h5's 0 and 1
        f["depth"], f["label"] = np.full((2, 1, 16, 16), 2.0, np.float32), np.zeros((2, 1, 16, 16), np.float32)
        f["index"] = np.array([2, 3], np.float32)
    (ws / "mixed.txt").write_text(f"{ws / 'ds' / 'test.h5'}\n{ws / 'othersize.h5'}\n")
    write_split(ws / "nobody.h5", np.full((2, H, W), 6.0, np.float32), np.full((2, H, W), labels.BACKGROUND))
    deploy = (ws / "deploy.prototxt").read_text()
    assert deploy.count('\\"num_labels\\": 20') == 1
    (ws / "crf5.prototxt").write_text(deploy.replace('\\"num_labels\\": 20', '\\"num_labels\\": 5'))
    for name, settings in (("listrun", "[1, 2]"), ("hugerun", '{"scale": "huge", "data": "ds", "seed": 0}')):
        (ws / name).mkdir()
        (ws / name / "settings.json").write_text(settings)
    (ws / "binary.dat").write_bytes(bytes(range(256)))
    (ws / "negdepth").mkdir()
    depth = np.full((6, 8), 3000, np.int32)
    depth[2, 5] = -7
    Image.fromarray(depth, mode="I").save(ws / "negdepth" / "a_depth.png", format="TIFF")  # read by content
    Image.fromarray(labels.colourise(np.full((6, 8), labels.BACKGROUND, np.uint8))).save(ws / "negdepth" / "a_label.png")


def depth_images(ws):
    """segment's inputs: frame.png (16-bit millimetres, a body at 2.5 m), frames/frame.npy (the same
    in metres: its outputs' names are frame.png's), an RGB PNG, a depth in millimetres saved as
    metres, a frame without readings, a NaN reading, junk named as each format, and a user's folder
    holding a file named as segment's output."""
    from PIL import Image

    depth = np.full((H, W), 6.0, np.float32)
    depth[6:18, 12:20] = 2.5
    Image.fromarray(np.where(depth < 6, depth * 1000, 0).astype(np.uint16)).save(ws / "frame.png")
    Image.fromarray(np.zeros((H, W), np.uint16)).save(ws / "nobody.png")
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(ws / "rgb.png")
    (ws / "frames").mkdir()
    np.save(ws / "frames" / "frame.npy", depth)
    np.save(ws / "millimetres.npy", depth * 1000)
    np.save(ws / "nan.npy", np.where(depth < 6, np.nan, depth))
    for name in ("junk.png", "junk.exr"):
        (ws / name).write_bytes(JUNK)
    (ws / "userseg").mkdir()
    (ws / "userseg" / "frame_labels.png").write_bytes(JUNK)


@pytest.fixture(scope="module", autouse=True)
def silent_inputs(workdir, pycaffe):
    """The inputs of the issue-23 cases above; lockedrun's lock is held while the module runs."""
    import h5py

    from experiments import run_lock
    from nets import crf
    from nets.prototxt import deploy_net
    from nets.runtime import net_from_text

    ws = workdir
    fake_dataset(ws / "wrongsize", H, W)
    fake_dataset(ws / "labels20", 48, 64, ("train", 20))
    fake_dataset(ws / "labelsneg", 48, 64, ("test", -1))
    for name, label in (("fakerun", None), ("labelrun", 255)):  # what tune and compare read of a run
        from experiments.scales import SCALES, STAGES

        (ws / name / "models").mkdir(parents=True)
        (ws / name / "snapshots").mkdir()
        for stage in STAGES:
            shutil.copy(ws / "model.caffemodel", ws / name / "models" / f"{stage}.caffemodel")
        shutil.copy(ws / "model.caffemodel", ws / name / "snapshots" / f"cnn_iter_{SCALES['tiny'].iters[0]}.caffemodel")
        (ws / name / "settings.json").write_text(json.dumps({"scale": "tiny", "train": 4, "data": str(ws / "ds"),
                                                             "edges": EDGES, "seed": 0}))
        frozen_scores(ws, f"{name}/scores")
        if label:
            with h5py.File(ws / name / "scores" / "part-00000.h5", "r+") as f:
                f["label"][1, 0, 2, 3] = label
    settings = crf.config(EDGES, 4)
    for name, layer, value in (("nancnn", "conv1", np.nan), ("inftheta", "crf", np.inf)):
        net = net_from_text(deploy_net(True, H, W, settings), pycaffe.TEST)
        net.copy_from(str(ws / "model.caffemodel"))
        net.params[layer][0].data.flat[3] = value
        net.save(str(ws / f"{name}.caffemodel"))
    net = net_from_text(str(crf.loss_net((2, 20, H, W), settings).to_proto()), pycaffe.TEST)
    net.params["crf"][0].data.flat[0] = np.nan
    net.save(str(ws / "nansnapshot.caffemodel"))
    with run_lock.hold(ws / "lockedrun"):
        yield


def fake_dataset(folder, height, width, bad=None):
    """A dataset of the tiny scale's counts (48 train, 16 test) of blank images, as the tools read
    one (meta.json, SPLIT.txt, SPLIT.h5); bad: (split, label value) at one pixel."""
    from data.hdf5 import write_split

    folder.mkdir()
    (folder / "meta.json").write_text("{}")
    for split, n in (("train", 48), ("test", 16)):
        label = np.zeros((n, height, width), np.float32)
        if bad and bad[0] == split:
            label[n // 2, 1, 2] = bad[1]
        write_split(folder / f"{split}.h5", np.full((n, height, width), 6.0, np.float32), label)
        (folder / f"{split}.txt").write_text(f"{folder / split}.h5\n")


@pytest.mark.parametrize("argv", ["replicate.py --scale tiny --out lockedrun --data new",
                                  "compare_learning.py --scale tiny --run fakerun --out lockedrun"])
def test_a_folder_another_process_trains_in_is_refused_at_once(argv, workdir):
    """The lock is another process's (this test's): one line naming the folder and the holder's PID."""
    before = snapshot(workdir)
    tool, *args = shlex.split(argv)
    done = subprocess.run([sys.executable, str(REPO / "tools" / tool), *args], cwd=workdir, capture_output=True,
                          text=True, timeout=120)
    check_refusal(done.returncode, done.stderr, ("lockedrun: in use by another run", HOLDER), before,
                  snapshot(workdir), "new", workdir)


@pytest.fixture(scope="module", autouse=True)
def repo_untouched():
    """Nothing in the repository (prototxt/, say) changes while the module runs."""
    def status():
        return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout
    before = status()
    yield
    assert status() == before


def snapshot(root):
    """{relative path: (size, mtime, content hash)} of every file under root, folders by name."""
    state = {}
    for p in sorted(root.rglob("*")):
        key = p.relative_to(root).as_posix()
        if p.is_dir() and not p.is_symlink():
            state[key + "/"] = None
        else:
            st = p.lstat()
            state[key] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return state


def check_refusal(code, err, names, before, after, out, workdir):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip() and err.endswith("\n"), err
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    if out and out not in {k.rstrip("/") for k in before}:
        assert not (workdir / out).exists()
    assert after == before


def test_every_tool_has_cases():
    assert sorted(CASES) == TOOLS
    assert all(len(cases) >= 3 for cases in CASES.values())


@pytest.mark.parametrize("tool, argv, names, out", [
    pytest.param(tool, *p.values, id=f"{tool} {p.id}") for tool, cases in CASES.items() for p in cases])
def test_refused_in_process(tool, argv, names, out, workdir, monkeypatch, capfd):
    monkeypatch.chdir(workdir)
    before = snapshot(workdir)
    try:
        code = run_tool(tool, argv)
        err = capfd.readouterr().err
        check_refusal(code, err, names, before, snapshot(workdir), out, workdir)
    finally:
        remove_new_paths(workdir, before)


def remove_new_paths(root, before):
    """What a failed case created, removed so that it cannot decide the cases after it."""
    for p in sorted(root.rglob("*"), reverse=True):
        key = p.relative_to(root).as_posix()
        if key not in before and key + "/" not in before:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


REAL = [
    ("eval", f"{EVAL} --limit -1", ("--limit", "'-1'"), None),
    ("eval", f"{EVAL} --scores-blob nope", ("'nope'",), None),  # after Caffe built the net: its logging is off
    ("make_dataset", "--out dsplus --train 1 --test 1 --height 8 --width 8", ("dsplus", "foreign.txt"), None),
    ("export_model", "snapshot.caffemodel --out notes.txt", ("notes.txt",), None),
    ("plot_theta", "--weights model.caffemodel --out missing/dir/x.png", ("missing/dir",), "missing"),
    ("eval", f"{EVAL} --json ds/test.h5", ("--json", "ds/test.h5"), None),
    ("contact_sheet", "ds/train.h5 --out ds/train.h5", ("--out", "ds/train.h5"), None),
    ("segment", f"{SEG} frame.png millimetres.npy", ("millimetres.npy",), "seg"),  # after Caffe built the net
]


@pytest.mark.parametrize("tool, argv, names, out", REAL, ids=[f"{t} {a}" for t, a, _, _ in REAL])
def test_refused_by_the_real_process(tool, argv, names, out, workdir):
    before = snapshot(workdir)
    try:
        done = subprocess.run([sys.executable, str(REPO / "tools" / f"{tool}.py"), *shlex.split(argv)],
                              cwd=workdir, capture_output=True, text=True, timeout=120)
        assert done.stdout == "" and done.stderr.startswith(f"{tool}.py: ")
        check_refusal(done.returncode, done.stderr, names, before, snapshot(workdir), out, workdir)
    finally:
        remove_new_paths(workdir, before)


def test_eval_saves_predictions_again_over_its_own_files_only(workdir, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(workdir)
    out = tmp_path / "pred"
    argv = shlex.split(EVAL) + ["--save-predictions", str(out)]
    assert run_tool("eval", argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png", "predictions.json", "predictions.npy"]
    assert run_tool("eval", argv + ["--limit", "1"]) == 0  # a rerun into its own folder: 00001.png is gone
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "predictions.json", "predictions.npy"]
    assert np.load(out / "predictions.npy").shape == (1, H, W)
    (out / "notes.txt").write_bytes(JUNK)
    before = snapshot(tmp_path)
    capfd.readouterr()
    assert run_tool("eval", argv) == 2
    assert "notes.txt" in capfd.readouterr().err and snapshot(tmp_path) == before


def test_segment_writes_again_into_its_own_folder_only(workdir, tmp_path, monkeypatch, capfd):
    """A rerun replaces its own files and adds new ones (listed in segment.json); a file it did not
    write in the folder, even one named as its output, is never replaced: refused before any work."""
    from PIL import Image

    from data.labels import colourise

    monkeypatch.chdir(workdir)
    out = tmp_path / "seg"
    argv = shlex.split(SEG.replace("seg", str(out))) + ["--inference", "cnn"]
    assert run_tool("segment", argv + ["frame.png"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["frame_labels.png", "segment.json"]
    assert run_tool("segment", argv + ["frame.png", "--ids"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["frame_ids.png", "frame_labels.png", "segment.json"]
    labels = np.asarray(Image.open(out / "frame_ids.png"))
    assert labels.shape == (H, W) and (labels != 19).any()  # the body at 2.5 m gets parts
    assert np.array_equal(np.asarray(Image.open(out / "frame_labels.png").convert("RGB")), colourise(labels))
    (out / "frame_marginals.npy").write_bytes(JUNK)  # a user's file, named as an output
    before = snapshot(tmp_path)
    capfd.readouterr()
    assert run_tool("segment", argv + ["frame.png", "--marginals"]) == 2
    err = capfd.readouterr().err
    assert "frame_marginals.npy" in err and len(err.splitlines()) == 1 and snapshot(tmp_path) == before


def test_make_dataset_under_a_file_size_limit(tmp_path):
    """A full disk, as `ulimit -f` makes one: one line naming the file and the cause, the earlier
    dataset as it was and no staging folder left (h5py's own error path printed tracebacks and
    ended in a segmentation fault)."""
    import resource

    import data

    data.make_dataset(tmp_path / "ds", train=1, test=1, height=8, width=8)
    before = snapshot(tmp_path)
    limit = 64 * 1024  # bytes; the new train.h5 (40 noisy 64x64 depth images) needs several times that
    done = subprocess.run([sys.executable, str(REPO / "tools" / "make_dataset.py"), "--out", str(tmp_path / "ds"),
                           "--train", "40", "--test", "1", "--height", "64", "--width", "64", "--workers", "1"],
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    check_refusal(done.returncode, done.stderr, ("train.h5", "File too large"), before, snapshot(tmp_path), None,
                  tmp_path)


@pytest.mark.parametrize("argv, names", [
    ("--report binary.dat --compare-report missing.json", ("--report", "binary.dat")),
    ("--report missing.json --compare-report binary.dat", ("--compare-report", "binary.dat")),
    ("--report emptydir --compare-report missing.json", ("--report", "emptydir")),
    ("--report missing.json --compare-report missing.json --json /proc/audit.json", ("--json", "/proc")),
])
def test_audit_refuses_its_files_before_measuring(argv, names, workdir, monkeypatch, capfd):
    """A report that cannot be read, or a --json that cannot be written, is refused before the
    claims are measured: found after them, it lost the measured table (a binary report: a raw
    traceback)."""
    from experiments.audit import runner
    from experiments.audit.common import PASS, Result

    measured = []

    def run(quick):
        measured.append(quick)
        return Result("1", "a claim", "measured", "-", PASS)
    claim = type("Claim", (), {"NUMBER": "1", "CLAIM": "a claim", "run": staticmethod(run)})
    monkeypatch.setattr(runner, "SIMULATED", [claim])
    monkeypatch.chdir(workdir)
    before = snapshot(workdir)
    code = run_tool("audit", ["--quick", *shlex.split(argv)])
    check_refusal(code, capfd.readouterr().err, names, before, snapshot(workdir), None, workdir)
    assert not measured


def test_tune_run_dot_puts_its_work_folder_beside_the_run(tmp_path, monkeypatch, capfd):
    """`--run .` from inside a run folder: the default work folder is RUN-tune named after the run
    ('.' has no name of its own), checked before any work; a run folder without a name (/) asks
    for --work."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "settings.json").write_text('{"scale": "tiny", "data": "data", "edges": "sparse:1,2", "seed": 0}')
    (tmp_path / "run-tune").write_bytes(JUNK)  # where the work folder would go: refused, not replaced
    monkeypatch.chdir(run)
    before = snapshot(tmp_path)
    code = run_tool("tune", ["--stage", "cnn", "--lr", "0.001", "--run", "."])
    check_refusal(code, capfd.readouterr().err, (str(tmp_path / "run-tune"), "--work"), before, snapshot(tmp_path),
                  None, tmp_path)
    code = run_tool("tune", ["--stage", "separate", "--lr", "0.001", "--run", "/"])
    check_refusal(code, capfd.readouterr().err, ("--run /", "--work"), before, snapshot(tmp_path), None, tmp_path)
