"""The finished replication run a comparison builds on (tools/replicate.py's folder): its
settings (settings.json: scale, edges, seed, data, iterations, batch size), its exported models
and the stage-1 CNN's stored scores of the training images."""
import json
from dataclasses import dataclass
from pathlib import Path

from nets.scores import read_meta

from .cli import BadInput
from .scales import STAGES

@dataclass(frozen=True)
class Run:
    folder: Path
    settings: dict  # as recorded: scale, train, test, height, width, iters, batch_size, edges, seed, data, ...
    stages: tuple = STAGES  # the stages whose models it holds (a comparison regime's own source: "cnn")

    def model(self, stage):
        return self.folder / "models" / f"{stage}.caffemodel"

    @property
    def scores(self):
        return self.folder / "scores"

    @property
    def data_dir(self):
        return Path(self.settings["data"])

    def log(self, stage):
        return self.folder / "logs" / f"{stage}.log"


def read_run(folder, scale):
    """The run in `folder`, refused (BadInput naming what is missing) unless it is a finished
    replication run of this scale."""
    folder = Path(folder)
    redo = f"run tools/replicate.py --scale {scale} --out {folder} first"
    try:
        settings = json.loads((folder / "settings.json").read_text())
    except (OSError, ValueError) as e:
        raise BadInput(f"{folder}: not a replication run (settings.json: {e}); {redo}") from None
    found = settings.get("scale") if isinstance(settings, dict) else None
    if found != scale:
        raise BadInput(f"{folder}: holds a run of scale {found!r}, not {scale!r}; pass --run with a {scale} run")
    run = Run(folder, settings)
    missing = [str(run.model(s)) for s in STAGES if not run.model(s).is_file()]
    if missing:
        raise BadInput(f"{folder}: an unfinished replication run (no {', '.join(missing)}); {redo}")
    meta = read_meta(run.scores) if run.scores.is_dir() else None
    if not meta or meta.get("images") != settings["train"]:
        raise BadInput(f"{folder}: has no stored CNN scores of its {settings['train']} training images "
                       f"({run.scores}); {redo}")
    return run
