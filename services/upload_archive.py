"""A multi-file slide uploaded as one archive: a DICOM WSI series (its ``.dcm`` files) or a
MIRAX slide (a ``.mrxs`` and its folder of the same name), in a ``.zip``, ``.tar`` or
``.tar.gz``, optionally inside one folder.

The archive is unpacked into a private folder with the standard library only, member by
member and refusing what could escape or swamp it: absolute paths, ``..``, links and anything
that is not a regular file or a folder, names given twice, more than :data:`MAX_MEMBERS`
members, paths deeper than :data:`MAX_DEPTH`, or more unpacked bytes than the caller's limit
(counted as written, not trusted from the headers: the zip-bomb guard). Hidden files and
macOS's ``__MACOSX`` folder are skipped. What remains must be one slide's layout; the caller
then checks it in a worker and stores the folder as the scanner-folder import does.
"""

from __future__ import annotations

import gzip
import os
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from services.errors import InvalidUploadError, UploadTooLargeError
from services.importer_series import (
    SERIES_SUFFIX,
    mirax_main_file,
    mirax_missing_files,
    series_main_file,
)
from services.registration import SNIFF_BYTES, sniff_slide_kind
from services.storage import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE

__all__ = [
    "ARCHIVE_SUFFIXES",
    "MAX_DEPTH",
    "MAX_MEMBERS",
    "UnpackedSlide",
    "archive_stem",
    "looks_like_archive",
    "unpack_slide_archive",
]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
"""Archive names the upload unpacks (longest first: ``.tar.gz`` before ``.gz``)."""

MAX_MEMBERS = 1_000
"""A DICOM series is a file per pyramid level (and a label, an overview); a MIRAX folder a
few dozen data files. More members than this is no slide."""

MAX_DEPTH = 3
"""Path components of a member: ``top/slide/Data0001.dat`` at most."""

_CHUNK = 1 << 20
_SKIPPED_PARTS = ("__MACOSX",)


@dataclass(frozen=True, slots=True)
class UnpackedSlide:
    """An unpacked archive: the slide's folder and the file OpenSlide opens it from."""

    folder: Path
    main_file: Path
    kind: str  # "dicom" or "mirax"
    unpacked_bytes: int


def archive_stem(name: str) -> str | None:
    """``name`` without its archive suffix, or None when it is no archive name."""
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _member_path(name: str) -> PurePosixPath | None:
    """The member's safe relative path; None for a member to skip. Refuses what could escape
    the folder it is unpacked into."""
    if "\\" in name or "\0" in name:
        raise InvalidUploadError(f"the archive member {name[:80]!r} has an unsafe name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise InvalidUploadError(f"the archive member {name[:80]!r} has an absolute path")
    parts = [p for p in path.parts if p != "."]
    if ".." in parts:
        raise InvalidUploadError(f"the archive member {name[:80]!r} points outside the archive")
    if not parts:
        return None
    if any(p.startswith(".") or p in _SKIPPED_PARTS for p in parts):
        return None  # .DS_Store, ._resource forks, __MACOSX/: an archiver's, not the slide's
    if len(parts) > MAX_DEPTH:
        raise InvalidUploadError(
            f"the archive member {name[:80]!r} is nested deeper than {MAX_DEPTH} folders"
        )
    return PurePosixPath(*parts)


class _Unpacker:
    """Writes members under ``root``, holding the counts and the byte budget."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.written = 0
        self.members = 0
        self.files: list[PurePosixPath] = []
        self._seen: set[str] = set()

    def count(self) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise InvalidUploadError(
                f"the archive has more than {MAX_MEMBERS} members; a slide has far fewer"
            )

    def write(self, relative: PurePosixPath, source: IO[bytes]) -> None:
        key = relative.as_posix().lower()  # case-insensitive file systems would merge these
        if key in self._seen:
            raise InvalidUploadError(f"the archive holds {relative.as_posix()!r} twice")
        self._seen.add(key)
        target = self.root.joinpath(*relative.parts)
        for folder in reversed(target.parents):
            if folder.is_relative_to(self.root) and not folder.exists():
                folder.mkdir(mode=PRIVATE_DIR_MODE)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "wb") as out:
            while chunk := source.read(_CHUNK):
                self.written += len(chunk)
                if self.written > self.max_bytes:
                    raise UploadTooLargeError(
                        f"the archive unpacks to more than the {self.max_bytes} bytes this "
                        "service accepts for a slide"
                    )
                out.write(chunk)
        self.files.append(relative)


def _unpack_zip(archive: Path, unpacker: _Unpacker) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            unpacker.count()
            relative = _member_path(info.filename)
            mode = info.external_attr >> 16
            kind = mode & 0o170000
            if info.is_dir():
                continue
            if kind not in (0, 0o100000):  # 0: no Unix mode recorded (a plain file)
                raise InvalidUploadError(
                    f"the archive member {info.filename[:80]!r} is a link or special file"
                )
            if relative is None:
                continue
            if info.flag_bits & 0x1:
                raise InvalidUploadError("the archive is encrypted; send it without a password")
            with zf.open(info) as source:
                unpacker.write(relative, source)


def _unpack_tar(archive: Path, unpacker: _Unpacker) -> None:
    with tarfile.open(archive, mode="r:*") as tf:
        for member in tf:  # one header at a time: the member count holds while reading
            unpacker.count()
            relative = _member_path(member.name)
            if member.isdir():
                continue
            if not member.isreg():
                raise InvalidUploadError(
                    f"the archive member {member.name[:80]!r} is a link or special file"
                )
            if relative is None:
                continue
            source = tf.extractfile(member)
            assert source is not None  # a regular member always has its data
            with source:
                unpacker.write(relative, source)


def _strip_one_folder(root: Path, files: list[PurePosixPath]) -> Path:
    """The folder the slide is in: ``root``, or its one folder when every file is inside it."""
    tops = {f.parts[0] for f in files}
    if len(tops) == 1 and all(len(f.parts) > 1 for f in files):
        return root / tops.pop()
    return root


def _check_dicom(folder: Path) -> Path:
    main = series_main_file(folder)
    if main is None:
        raise InvalidUploadError(
            "the archive is no DICOM series: a series is .dcm files only, side by side "
            "(optionally inside one folder)"
        )
    for path in sorted(folder.iterdir()):
        with path.open("rb") as f:
            if sniff_slide_kind(f.read(SNIFF_BYTES)) != "dicom":
                raise InvalidUploadError(f"{path.name!r} in the archive is no DICOM file")
    return main


def _check_mirax(main: Path) -> None:
    try:
        missing = mirax_missing_files(main)
    except ValueError as exc:
        raise InvalidUploadError(
            f"the archive's MIRAX slide {main.name!r} is broken: {exc}"
        ) from exc
    if missing:
        raise InvalidUploadError(
            f"the archive's MIRAX slide {main.name!r} lacks {', '.join(missing)} in its folder "
            f"{main.stem + '/'!r}"
        )


def _slide_in(folder: Path) -> tuple[Path, str]:
    """The main file of the one slide ``folder`` holds, and its kind; else a clear refusal."""
    names = list(folder.iterdir())
    if any(p.suffix.lower() == ".mrxs" for p in names):
        main = mirax_main_file(folder)
        if main is None:
            raise InvalidUploadError(
                "a MIRAX slide is its .mrxs and, next to it, the folder of the same name with "
                "its data files (Slidedat.ini, Index.dat, Data*.dat); the archive holds a "
                ".mrxs without that folder, or more than the one slide"
            )
        _check_mirax(main)
        return main, "mirax"
    if names and all(p.is_file() and p.suffix.lower() == SERIES_SUFFIX for p in names):
        return _check_dicom(folder), "dicom"
    raise InvalidUploadError(
        "the archive holds no multi-file slide: send a DICOM series (its .dcm files) or a "
        "MIRAX slide (the .mrxs and its folder), optionally inside one folder; a single-file "
        "slide is uploaded as it is"
    )


def unpack_slide_archive(archive: Path, name: str, root: Path, max_bytes: int) -> UnpackedSlide:
    """Unpack the uploaded ``archive`` (sent as ``name``) into the new folder ``root`` and find
    its slide. On any refusal (422; 413 over ``max_bytes``) the caller removes ``root``."""
    root.mkdir(mode=PRIVATE_DIR_MODE)
    unpacker = _Unpacker(root, max_bytes)
    try:
        if name.lower().endswith(".zip"):
            _unpack_zip(archive, unpacker)
        else:
            _unpack_tar(archive, unpacker)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, gzip.BadGzipFile, EOFError) as exc:
        raise InvalidUploadError(f"{name!r} is not a readable archive: {exc}") from exc
    except (RuntimeError, NotImplementedError) as exc:  # zipfile: encryption, an odd method
        raise InvalidUploadError(f"{name!r} cannot be unpacked: {exc}") from exc
    if not unpacker.files:
        raise InvalidUploadError(f"{name!r} holds no files")
    folder = _strip_one_folder(root, unpacker.files)
    main, kind = _slide_in(folder)
    return UnpackedSlide(folder, main, kind, unpacker.written)


def looks_like_archive(name: str, head: bytes) -> bool:
    """Whether the first 512 bytes of the file sent as ``name`` start like its archive kind."""
    lowered = name.lower()
    if lowered.endswith(".zip"):
        return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")
    if lowered.endswith((".tar.gz", ".tgz")):
        return head[:2] == b"\x1f\x8b"
    return head[257:262] == b"ustar"
