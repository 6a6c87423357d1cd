"""Slide upload: ``POST /cases/{case_id}/slides`` registers a scanned slide and queues its tiling.

The multipart body is parsed as it arrives and the file streamed to disk, so the size limit
holds before the whole upload has been received; whatever goes wrong, nothing is left behind
(no file, no slide). The API process checks only the file name and magic number; before the
slide is registered it is opened in a worker process (:meth:`JobRunner.probe`: the reader, the
checks for cut-short and hostile TIFFs, the caps on pixels and tiles), so a slide that would
fail its tiling job is refused with the reader's message (422), and none is registered while
no worker can look at it (503).

A multi-file slide (a DICOM series, a MIRAX slide) comes as one ``.zip``, ``.tar`` or
``.tar.gz``: it is unpacked safely (:mod:`services.upload_archive`), checked the same way
through the file OpenSlide opens it from, and its folder stored whole, as the scanner-folder
import stores a dropped series.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import IO, Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Request, status
from fastapi import Path as PathParam
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from services.deps import CurrentUser, StateDep
from services.errors import (
    AccessDeniedError,
    InvalidUploadError,
    ResourceNotFoundError,
    UnsupportedUploadError,
    UploadTooLargeError,
)
from services.importer_series import SERIES_SUFFIX, store_tree
from services.quota import check_pyramid_quota
from services.registration import (
    SLIDE_SUFFIXES,
    SNIFF_BYTES,
    register_slide_file,
    sniff_slide_kind,
)
from services.routers.jobs import job_public
from services.schemas.auth import ErrorBody
from services.schemas.jobs import SlideUploadPublic
from services.state import AppState
from services.storage import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    safe_file_name,
    slide_storage_path,
    store_slide_file,
)
from services.upload_archive import (
    ARCHIVE_SUFFIXES,
    archive_stem,
    looks_like_archive,
    unpack_slide_archive,
)
from worklist.db import read_session
from worklist.enums import Role
from worklist.labels import SlideLabels
from worklist.models import Case, Slide, TilingJob
from worklist.operations import ScanRegistration

router = APIRouter(tags=["slides"])

UPLOAD_PATH = "/cases/{case_id}/slides"
"""The streamed upload route (POST): its body is multipart, with a size limit of its own."""

CaseId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The case's id.")]

_FIELD_MAX_BYTES = 256
_MAX_PARTS = 8
_TEXT_FIELDS = ("stain", "specimen_label", "block_label")


class _UploadReader:
    """Feeds a multipart body through ``python_multipart``, streaming the file part to disk."""

    def __init__(self, boundary: bytes, incoming: Path, max_bytes: int) -> None:
        self.incoming = incoming
        self.max_bytes = max_bytes
        self.fields: dict[str, bytearray] = {}
        self.file_name: str | None = None
        self.file_size = 0
        self.finished = False
        self._parts = 0
        self._headers: dict[str, str] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._target: bytearray | IO[bytes] | None = None
        self._file: IO[bytes] | None = None
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise InvalidUploadError(f"the multipart body is malformed: {exc}") from exc

    def discard(self) -> None:
        """Close and delete the partial file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.incoming.unlink(missing_ok=True)

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise InvalidUploadError(f"the upload has more than {_MAX_PARTS} parts")
        self._headers = {}
        self._target = None

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_field.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise InvalidUploadError("every part needs Content-Disposition: form-data; name=...")
        name = options[b"name"].decode("utf-8", "replace")
        if name == "file":
            if self.file_name is not None:
                raise InvalidUploadError("send one file per upload")
            self.file_name = options.get(b"filename", b"").decode("utf-8", "replace")
            self.incoming.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            # Private from its first byte: an upload is patient data.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            descriptor = os.open(self.incoming, flags, PRIVATE_FILE_MODE)
            self._file = self._target = os.fdopen(descriptor, "wb")
        elif name in _TEXT_FIELDS:
            if name in self.fields:
                raise InvalidUploadError(f"the field {name!r} is given twice")
            self.fields[name] = self._target = bytearray()
        else:
            raise InvalidUploadError(
                f"unknown field {name[:40]!r}; send file, and optionally {', '.join(_TEXT_FIELDS)}"
            )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if isinstance(self._target, bytearray):
            if len(self._target) + end - start > _FIELD_MAX_BYTES:
                raise InvalidUploadError(f"form fields are limited to {_FIELD_MAX_BYTES} bytes")
            self._target += data[start:end]
        elif self._target is not None:
            self.file_size += end - start
            if self.file_size > self.max_bytes:
                raise UploadTooLargeError(
                    f"the slide file is larger than the {self.max_bytes} bytes this service accepts"
                )
            self._target.write(data[start:end])

    def _part_end(self) -> None:
        if self._file is not None and self._target is self._file:
            self._file.close()
        self._target = None

    def _end(self) -> None:
        self.finished = True

    def text(self, name: str, default: str | None) -> str | None:
        raw = self.fields.get(name)
        if raw is None:
            return default
        try:
            value = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise InvalidUploadError(f"the field {name!r} is not UTF-8 text") from exc
        return value or default


def _case_for_upload(state: AppState, user: CurrentUser, case_id: int) -> Case:
    with read_session(state.engine) as session:
        case = session.get(Case, case_id)
    if case is None:
        raise ResourceNotFoundError(f"case {case_id} does not exist")
    if user.role in (Role.LAB_MANAGER, Role.ADMIN):
        return case
    if user.role is Role.PATHOLOGIST and user.department_id == case.department_id:
        return case
    raise AccessDeniedError(
        f"slides of case {case_id} are uploaded by its department's pathologists and by lab "
        "managers"
    )


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedUploadError("send the slide as multipart/form-data with a boundary")
    return options[b"boundary"]


def _check_length(request: Request, max_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return
    # Multipart overhead (boundaries, headers, small fields) is far below 64 KiB.
    if int(declared) > max_bytes + 64 * 1024:
        raise UploadTooLargeError(
            f"the upload ({declared} bytes) is larger than the {max_bytes} bytes this service "
            "accepts"
        )


def _checked_file(reader: _UploadReader) -> str:
    """The upload's safe file name, once the body is complete and looks like a slide."""
    if not reader.finished:
        raise InvalidUploadError("the multipart body ended early")
    if reader.file_name is None:
        raise InvalidUploadError("the upload has no 'file' part")
    name = safe_file_name(reader.file_name)
    is_archive = archive_stem(name) is not None
    if Path(name).suffix.lower() not in SLIDE_SUFFIXES and not is_archive:
        raise UnsupportedUploadError(
            f"{reader.file_name[:80]!r} is not a slide file this service accepts "
            f"(one of {', '.join(sorted(SLIDE_SUFFIXES - {SERIES_SUFFIX}))}; a multi-file slide "
            "as one of "
            f"{', '.join(ARCHIVE_SUFFIXES)})"
        )
    if Path(name).suffix.lower() == SERIES_SUFFIX and not is_archive:
        # A DICOM WSI is one file per pyramid level; OpenSlide would open one alone and show
        # part of the slide (the drop folder refuses a loose .dcm for the same reason).
        raise UnsupportedUploadError(
            f"{name!r} is one file of a DICOM series; upload the whole series (every .dcm of "
            f"the slide) as one archive ({', '.join(ARCHIVE_SUFFIXES)})"
        )
    if reader.file_size == 0:
        raise InvalidUploadError("the uploaded file is empty")
    with reader.incoming.open("rb") as f:
        if is_archive:
            if not looks_like_archive(name, f.read(512)):
                raise UnsupportedUploadError(f"{name!r} does not start like its kind of archive")
            return name
        if sniff_slide_kind(f.read(SNIFF_BYTES)) is None:
            raise UnsupportedUploadError(
                f"{name!r} does not start like a TIFF, DICOM, JPEG or PNG file"
            )
    return name


def _named_for_probe(incoming: Path, file_name: str) -> Path:
    """The complete upload moved to a private folder of its own under its safe name, so the
    reader's messages name the file as the user sent it."""
    folder = incoming.with_suffix("")
    folder.mkdir(mode=PRIVATE_DIR_MODE)
    named = folder / file_name
    os.replace(incoming, named)
    return named


def _stored_archive(
    state: AppState, incoming: Path, file_name: str, accession_number: str
) -> tuple[Path, Path]:
    """Unpack the uploaded archive, check its slide in a worker and store its folder; the
    stored folder and the slide's main file in it. Nothing is left behind when it fails."""
    root = incoming.with_suffix("")
    stored: Path | None = None
    try:
        unpacked = unpack_slide_archive(incoming, file_name, root, state.settings.max_upload_bytes)
        incoming.unlink()  # the archive is no longer needed; the disk may be tight
        state.jobs.probe(unpacked.main_file)
        stem = archive_stem(file_name)
        assert stem is not None
        stored = slide_storage_path(state.settings, accession_number, stem)
        main_in_folder = unpacked.main_file.relative_to(unpacked.folder)
        store_tree(unpacked.folder, stored)
        return stored, stored / main_in_folder
    except BaseException:
        if stored is not None:
            shutil.rmtree(stored, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _discard_named(named: Path) -> None:
    """Remove what :func:`_named_for_probe` made (the file is gone once stored)."""
    named.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        named.parent.rmdir()


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The slide: "
                            + ", ".join(sorted(SLIDE_SUFFIXES - {SERIES_SUFFIX}))
                            + " (one file); or a multi-file slide (a DICOM series' .dcm "
                            "files, or a MIRAX .mrxs with its folder) as one "
                            + ", ".join(ARCHIVE_SUFFIXES)
                            + ".",
                        },
                        "stain": {"type": "string", "default": "H&E", "maxLength": 64},
                        "specimen_label": {
                            "type": "string",
                            "default": "A",
                            "pattern": "^[A-Z]{1,2}$",
                        },
                        "block_label": {
                            "type": "string",
                            "description": "Block label like A1 (default: the first unscanned "
                            "slide with this stain, else <specimen_label>1).",
                            "pattern": "^[A-Z]{1,2}[0-9]{1,3}$",
                        },
                    },
                    # As in every JSON body: a field not named here is refused (422).
                    "additionalProperties": False,
                }
            }
        },
    }
}


@router.post(
    UPLOAD_PATH,
    response_model=SlideUploadPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_BODY,
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not your department's case."},
        404: {"model": ErrorBody, "description": "No such case."},
        413: {"model": ErrorBody, "description": "The file is too large."},
        415: {"model": ErrorBody, "description": "Not multipart, or not a slide file."},
        422: {
            "model": ErrorBody,
            "description": "A malformed body or impossible labels; or the slide cannot be read "
            "(the reader's message), is a damaged or crafted TIFF, or has more pixels or tiles "
            "than this service tiles; or an archive is damaged, has an unsafe member (an "
            "absolute path, '..', a link), too many members, or holds no one multi-file slide.",
        },
        503: {"model": ErrorBody, "description": "No worker process to check the slide."},
        507: {
            "model": ErrorBody,
            "description": "The department's pyramids take its disk quota already.",
        },
    },
)
async def upload_slide(
    case_id: CaseId, request: Request, user: CurrentUser, state: StateDep
) -> SlideUploadPublic:
    """Upload a scanned slide to a case: it is opened and checked in a worker process, then
    registered and its tiling job queued.

    Lab managers and administrators, and pathologists of the case's department.
    """
    case = await anyio.to_thread.run_sync(_case_for_upload, state, user, case_id)
    # Before the body is received: a department out of disk space need not send 20 GB first.
    await anyio.to_thread.run_sync(
        lambda: check_pyramid_quota(
            engine=state.engine, settings=state.settings, department_id=case.department_id
        )
    )
    boundary = _boundary(request)
    max_bytes = state.settings.max_upload_bytes
    _check_length(request, max_bytes)
    incoming = state.settings.slide_dir / ".incoming" / f"{uuid.uuid4().hex}.part"
    reader = _UploadReader(boundary, incoming, max_bytes)
    stored: Path | None = None
    stored_folder: Path | None = None
    checked: Path | None = None
    try:
        async for chunk in request.stream():
            if chunk:
                await anyio.to_thread.run_sync(reader.write, chunk)
        file_name = await anyio.to_thread.run_sync(_checked_file, reader)
        specimen = reader.text("specimen_label", "A")
        assert specimen is not None
        labels = SlideLabels(
            specimen=specimen,
            block=reader.text("block_label", None),
            stain=reader.text("stain", "H&E") or "H&E",
        )
        if archive_stem(file_name) is not None:
            stored_folder, stored = await anyio.to_thread.run_sync(
                _stored_archive, state, incoming, file_name, case.accession_number
            )
        else:
            checked = await anyio.to_thread.run_sync(_named_for_probe, incoming, file_name)
            await anyio.to_thread.run_sync(state.jobs.probe, checked)
            stored = slide_storage_path(state.settings, case.accession_number, file_name)
            await anyio.to_thread.run_sync(store_slide_file, checked, stored)
        slide_file = stored
        assert slide_file is not None
        registration = await anyio.to_thread.run_sync(
            lambda: register_slide_file(
                engine=state.engine,
                settings=state.settings,
                actor=user.actor,
                case_id=case.id,
                labels=labels,
                file_path=slide_file,
                origin="upload",
            )
        )
    except BaseException:
        reader.discard()
        if checked is not None:
            _discard_named(checked)
        if stored_folder is not None:
            shutil.rmtree(stored_folder, ignore_errors=True)
        elif stored is not None:
            stored.unlink(missing_ok=True)
        raise
    if checked is not None:
        _discard_named(checked)
    state.jobs.notify()
    return await anyio.to_thread.run_sync(
        _upload_public, state, registration, file_name, reader.file_size
    )


def _upload_public(
    state: AppState, registration: ScanRegistration, file_name: str, size_bytes: int
) -> SlideUploadPublic:
    with read_session(state.engine) as session:
        slide = session.get(Slide, registration.slide_id)
        job = session.get(TilingJob, registration.job_id)
        assert slide is not None and job is not None
        block = slide.block
        return SlideUploadPublic(
            case_id=registration.case_id,
            accession_number=registration.accession_number,
            slide_id=slide.id,
            stain=slide.stain,
            specimen_label=block.specimen.label,
            block_label=block.label,
            file_name=file_name,
            size_bytes=size_bytes,
            pyramid_status=slide.pyramid_status,
            job=job_public(job),
        )
