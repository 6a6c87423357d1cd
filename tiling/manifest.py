"""The build manifest and journal that make an interrupted pyramid build resumable."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tiling.plan import BlockId

MANIFEST_NAME = "coupe-manifest.json"
JOURNAL_NAME = "journal.txt"


@dataclass(frozen=True)
class BuildManifest:
    """What a pyramid was built from and how: a resumed build must match it exactly."""

    slide_path: str
    slide_size_bytes: int
    slide_mtime_ns: int
    tile_size_px: int
    overlap_px: int
    tile_format: str
    quality: int
    limit_bounds: bool
    background: str
    levels_per_block: int
    backend: str | None = None
    format_version: int = 1

    @classmethod
    def read(cls, path: Path) -> BuildManifest | None:
        """The manifest stored at ``path``, or None when absent or unreadable."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, path: Path) -> None:
        """Store the manifest atomically."""
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, path)


class BuildJournal:
    """An append-only list of finished blocks, flushed to disk as each one completes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def done_blocks(self) -> set[BlockId]:
        """The blocks recorded as finished; a torn last line (a crash mid-write) is ignored."""
        try:
            lines = self.path.read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            return set()
        done: set[BlockId] = set()
        for line in lines:
            parts = line.split()
            if len(parts) == 4 and parts[3] == "ok":
                done.add((int(parts[0]), int(parts[1]), int(parts[2])))
        return done

    def record(self, block: BlockId) -> None:
        """Record ``block`` as finished.

        Written through to the OS at once, so a killed or crashed build resumes correctly.
        Not fsynced: the tiles themselves are not either (that would cost more than the
        build), so after a power loss a build is redone rather than trusted.
        """
        with self.path.open("a", encoding="ascii") as f:
            f.write(f"{block[0]} {block[1]} {block[2]} ok\n")
