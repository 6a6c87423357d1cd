"""A Deep Zoom pyramid as one file, for moving it between sites: an uncompressed ZIP.

The archive holds exactly the DZI layout (``NAME.dzi`` and ``NAME_files/LEVEL/COL_ROW.EXT``),
stored without compression (tiles are compressed already), so any tile can be read in place
through the ZIP central directory, and any unzip tool restores the directory.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from tiling.closing import ClosesOnExit
from tiling.errors import TilingError

__all__ = ["ArchiveError", "PyramidArchive", "TileNotInArchiveError", "write_archive"]


class ArchiveError(TilingError):
    """A pyramid archive is missing, malformed or lacks the requested entry."""


class TileNotInArchiveError(ArchiveError, LookupError):
    """The archive has no such tile."""


def write_archive(dzi_path: Path, archive_path: Path) -> Path:
    """Pack the pyramid described by ``dzi_path`` into ``archive_path``, atomically."""
    name = dzi_path.stem
    files_dir = dzi_path.with_name(f"{name}_files")
    partial = archive_path.with_name(archive_path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.write(dzi_path, dzi_path.name)
        for level_dir in sorted(files_dir.iterdir(), key=lambda p: (not p.is_dir(), p.name)):
            if not level_dir.is_dir():
                zf.write(level_dir, f"{name}_files/{level_dir.name}")
                continue
            for tile in sorted(level_dir.iterdir()):
                zf.write(tile, f"{name}_files/{level_dir.name}/{tile.name}")
    os.replace(partial, archive_path)
    return archive_path


class PyramidArchive(ClosesOnExit):
    """Read access to a pyramid archive: the descriptor and single tiles, without unpacking."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ArchiveError(f"cannot open pyramid archive {str(path)!r}: {exc}") from exc
        descriptors = [n for n in self._zip.namelist() if n.endswith(".dzi") and "/" not in n]
        if len(descriptors) != 1:
            self._zip.close()
            raise ArchiveError(f"{str(path)!r} holds no single .dzi descriptor")
        self.path = path
        self.name = descriptors[0][: -len(".dzi")]

    def dzi(self) -> str:
        """The DZI XML descriptor."""
        return self._zip.read(f"{self.name}.dzi").decode("utf-8")

    def tile(self, level: int, column: int, row: int, extension: str) -> bytes:
        """The encoded bytes of one tile."""
        entry = f"{self.name}_files/{level}/{column}_{row}.{extension}"
        try:
            return self._zip.read(entry)
        except KeyError:
            raise TileNotInArchiveError(
                f"pyramid archive {str(self.path)!r} has no tile {level}/{column}_{row}"
            ) from None

    def close(self) -> None:
        """Close the archive file."""
        self._zip.close()
