"""The build manifest and journal that make an interrupted pyramid build resumable.

The manifest says what a pyramid was built from (the slide file, by path, size and time) and
how (its ``TileSpec`` and the build's pixel options). On disk it is JSON, format version 2:
the spec is a nested object. Version 1 manifests (the spec's fields flat beside the others,
written before the spec existed) are read as the same manifest, so pyramids built then are
neither rebuilt nor restarted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiling.plan import BlockId
from tiling.spec import TileSpec

__all__ = ["JOURNAL_NAME", "MANIFEST_NAME", "BuildJournal", "BuildManifest"]

MANIFEST_NAME = "coupe-manifest.json"
JOURNAL_NAME = "journal.txt"
MANIFEST_FORMAT_VERSION = 2
_SPEC_FIELDS = ("tile_size_px", "overlap_px", "tile_format", "quality", "limit_bounds", "backend")


@dataclass(frozen=True)
class BuildManifest:
    """What a pyramid was built from and how: a resumed build must match it exactly."""

    slide_path: str
    slide_size_bytes: int
    slide_mtime_ns: int
    spec: TileSpec
    background: str
    levels_per_block: int
    format_version: int = field(default=MANIFEST_FORMAT_VERSION, init=False)

    @classmethod
    def read(cls, path: Path) -> BuildManifest | None:
        """The manifest stored at ``path`` (format 1 or 2), or None when absent or unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_json(data)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildManifest:
        """A manifest from its JSON object; a flat version 1 object is converted."""
        data = dict(data)
        version = data.pop("format_version", 1)
        if version == 1:
            spec = {name: data.pop(name) for name in _SPEC_FIELDS if name in data}
        elif version == MANIFEST_FORMAT_VERSION:
            spec = data.pop("spec")
        else:
            raise ValueError(f"manifest format version {version!r} is unknown")
        return cls(spec=TileSpec.from_json(spec), **data)

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON object, format version 2."""
        return {
            "format_version": self.format_version,
            "slide_path": self.slide_path,
            "slide_size_bytes": self.slide_size_bytes,
            "slide_mtime_ns": self.slide_mtime_ns,
            "spec": self.spec.to_json(),
            "background": self.background,
            "levels_per_block": self.levels_per_block,
        }

    def differences(self, other: BuildManifest) -> list[str]:
        """What ``other`` was built with that this manifest differs in, e.g.
        ``"tile_size_px 254, not 510"`` (``other``'s value first); empty when they agree."""
        ours, theirs = _flat(self.to_json()), _flat(other.to_json())
        return [
            f"{key} {theirs.get(key)!r}, not {ours.get(key)!r}"
            for key in dict.fromkeys([*theirs, *ours])
            if key != "format_version" and ours.get(key) != theirs.get(key)
        ]

    def write(self, path: Path) -> None:
        """Store the manifest atomically."""
        partial = path.with_name(path.name + ".partial")
        text = json.dumps(self.to_json(), indent=2, sort_keys=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)


def _flat(data: dict[str, Any]) -> dict[str, Any]:
    """A manifest's JSON with the spec's fields beside the others (as in format 1)."""
    flat = {key: value for key, value in data.items() if key != "spec"}
    return {**flat, **data.get("spec", {})}


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
