"""Output folders a tool writes into only where it can prove the files are its own: a manifest
(JSON {"kind", "files"}) in the folder lists every file the tool wrote there.

A folder is written into only when it is absent, empty, or holds nothing but the files its
manifest lists (plain files) and the manifest itself: a user's folder, even one holding files of
the same names, is refused (DataError naming the first foreign entry) before any work.
"""
import json
import re
from pathlib import Path

from .errors import DataError


class OwnedFolder:
    def __init__(self, manifest, kind, names, writer):
        """manifest: its file name; kind: what the manifest says it lists; names: a regular
        expression every listed name must match; writer: who writes the files, for messages."""
        self.manifest, self.kind, self.names, self.writer = manifest, kind, re.compile(names), writer

    def own_files(self, folder):
        """Names in folder that earlier writes listed ([] for an absent or empty folder)."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise DataError(f"{folder}: is a file, not a folder to write {self.kind} in")
        names = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        listed = self._listed(folder) if names else set()
        for name in names:
            path = folder / name
            if name != self.manifest and name not in listed or path.is_symlink() or not path.is_file():
                raise DataError(f"{path}: not a file written by {self.writer} ({self.manifest} does not list it); "
                                f"not writing into {folder}")
        return [n for n in names if n != self.manifest]

    def write_manifest(self, folder, names):
        """List names as written here (before writing them, so that an interrupted write stays
        provably ours; again after, with what is there)."""
        (Path(folder) / self.manifest).write_text(json.dumps({"kind": self.kind, "files": names}, indent=1) + "\n")

    def _listed(self, folder):
        try:
            manifest = json.loads((folder / self.manifest).read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            return set()
        files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("kind") == self.kind else None
        return {n for n in files if isinstance(n, str) and self.names.fullmatch(n)} if isinstance(files, list) else set()
