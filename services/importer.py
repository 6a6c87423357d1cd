"""Scanner folder import: slide files dropped in ``import_dir/<DEPT>/`` become slides of cases.

Each file is looked at once per version (path, size, modification time), after it has been
left alone for ``settle_s`` seconds (a scanner may still be writing it; by default
``settings.import_poll_s``):

1. a file whose content (sha256) was registered before is a duplicate: left in place;
2. the slide is opened in a worker process (:meth:`JobRunner.probe`) and held to the caps on
   its pixels and tiles (``settings.slide_limits``); the API process only compares magic
   numbers;
3. the case comes from the accession number at the start of the file name,
   ``ALR-T26-00123[_A1][_HE][_anything].svs`` (block ``A1`` of specimen ``A``, stain ``HE``
   = H&E; :mod:`worklist.scan_names`), or else from a barcode the scanner wrote into the
   slide's properties;
4. the case's department must be under its pyramid disk quota (:mod:`services.quota`);
5. the file is moved to ``settings.slide_dir``, attached to its slide and a tiling job queued.

A file that fails any step stays where it is, with the reason (and its kind,
:class:`~worklist.models.imports.ImportProblem`) in the ``imported_file`` table, in the import
queue (``queue_status`` "open": a lab manager links it to a case or discards it, see
:mod:`services.importer_queue`) and in a ``<name>.coupe-import-error.txt`` file beside it; it
is tried again only once it changes. Refused too: a file in another department's folder than
its case's, a block the case does not have (no specimen or block is made up from a file name),
and every file in a folder no department has. A slide of a case already signed out is
registered but flagged (``queue_status`` "flagged"), so it reaches the pathologist as a
post-sign-out slide. Every outcome is an ``imported_file`` row; a partial unique index on
the content hash of registered files keeps two importers from registering the same slide twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.importer_series import (
    folder_digest,
    folder_main_file,
    folder_version,
    kind_refusal,
    store_tree,
)
from services.jobs import JobRunner, WorkersUnavailableError
from services.quota import PyramidQuotaExceededError, check_pyramid_quota
from services.registration import register_slide_file
from services.settings import Settings
from services.storage import PRIVATE_DIR_MODE, slide_storage_path, store_slide_file
from tiling.errors import SlideTooLargeError, TilingError
from worklist.actor import Actor
from worklist.db import read_session, run_in_transaction
from worklist.enums import CaseStatus
from worklist.errors import WorklistError
from worklist.models import Case, Department, ImportedFile, ImportOutcome, Slide
from worklist.models.imports import ImportProblem, QueueStatus
from worklist.scan_names import ScanName, parse_scan_name

__all__ = [
    "ERROR_SIDECAR_SUFFIX",
    "FolderImporter",
    "ImportResult",
]

log = logging.getLogger(__name__)

ERROR_SIDECAR_SUFFIX = ".coupe-import-error.txt"
_IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload")
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one scan did with one file."""

    path: Path
    outcome: ImportOutcome
    reason: str
    slide_id: int | None = None
    job_id: int | None = None
    problem: ImportProblem | None = None


class _Refused(Exception):
    """A file cannot be imported; the message says why (for the operator at the scanner)."""

    def __init__(self, problem: ImportProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class _Seen:
    path: Path
    department: str
    size_bytes: int
    mtime_ns: int


class FolderImporter:
    """Watches the department drop folders; ``scan_once()`` handles what is there now."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        runner: JobRunner,
        settle_s: float | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.runner = runner
        self.settle_s = settings.import_poll_s if settle_s is None else settle_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- scanning

    def scan_once(self) -> list[ImportResult]:
        """Import every settled new file in the department folders; what happened to each."""
        results = []
        for seen in self._new_files():
            if self._stopping.is_set():
                break
            results.append(self._import(seen))
        if any(r.job_id is not None for r in results):
            self.runner.notify()
        return results

    def _department_codes(self) -> list[str]:
        with read_session(self.engine) as session:
            return list(session.scalars(select(Department.code).order_by(Department.code)))

    def _folders(self) -> list[tuple[str, Path]]:
        """Each department's drop folder, and every other folder in the import folder (its
        files are reported, not imported: no department has that code)."""
        codes = self._department_codes()
        folders = []
        for code in codes:
            folder = self.settings.import_dir / code
            folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            folders.append((code, folder))
        for other in sorted(self.settings.import_dir.iterdir()):
            if other.is_dir() and not other.is_symlink() and other.name not in codes:
                if not other.name.startswith("."):
                    folders.append((other.name, other))
        return folders

    def _new_files(self) -> list[_Seen]:
        """Settled files not seen before in this version, oldest first."""
        now_ns = time.time_ns()
        found: list[_Seen] = []
        for code, folder in self._folders():
            for path in sorted(folder.iterdir()):
                if _is_slide_folder(path):
                    try:
                        size, mtime = folder_version(path)
                    except OSError:
                        continue
                    if now_ns - mtime >= self.settle_s * 1e9:
                        found.append(_Seen(path, code, size, mtime))
                    continue
                if not _is_candidate(path):
                    continue
                try:
                    stat = path.stat()
                except OSError:
                    continue  # moved away meanwhile
                if now_ns - stat.st_mtime_ns < self.settle_s * 1e9:
                    continue
                found.append(_Seen(path, code, stat.st_size, stat.st_mtime_ns))
        return [seen for seen in found if not self._already_seen(seen)]

    def _already_seen(self, seen: _Seen) -> bool:
        with read_session(self.engine) as session:
            return (
                session.scalar(
                    select(ImportedFile.id)
                    .where(
                        ImportedFile.source_path == str(seen.path),
                        ImportedFile.size_bytes == seen.size_bytes,
                        ImportedFile.mtime_ns == seen.mtime_ns,
                        ImportedFile.outcome != ImportOutcome.REGISTERED,
                    )
                    .limit(1)
                )
                is not None
            )

    # -- one file

    def _import(self, seen: _Seen) -> ImportResult:
        digest: str | None = None
        name: ScanName | None = None
        try:
            digest = folder_digest(seen.path) if seen.path.is_dir() else _sha256(seen.path)
            duplicate = self._registered_with(digest)
            if duplicate is not None:
                return self._record(seen, digest, ImportOutcome.DUPLICATE, duplicate, None)
            if seen.department not in self._department_codes():
                raise _Refused(
                    ImportProblem.UNKNOWN_DEPARTMENT_FOLDER,
                    f"the folder {seen.department!r} belongs to no department (drop slides "
                    f"in a department's folder: {', '.join(self._department_codes())})",
                )
            name = self._identify(seen.path)
            case_id = self._case_id(name.accession_number)
            signed_out = self._check_case(case_id, name, seen.department)
            self._check_quota(case_id)
            return self._register(seen, digest, name, case_id, signed_out=signed_out)
        except _Refused as exc:
            accession = name.accession_number if name else None
            return self._record(
                seen, digest, ImportOutcome.REJECTED, str(exc), accession, problem=exc.problem
            )
        except (OSError, WorkersUnavailableError) as exc:
            # Gone mid-import (the scanner took it back) or no worker to check it: not the
            # file's fault, so nothing is recorded and the next scan tries again.
            log.warning("import of %s postponed: %s", seen.path, exc)
            return ImportResult(seen.path, ImportOutcome.REJECTED, f"postponed: {exc}")

    def _identify(self, folder_or_file: Path) -> ScanName:
        """Check the file (magic number here, opening in a worker) and find its case key; a
        slide folder (DICOM series, MIRAX) is checked through its main file and named by the
        folder."""
        path = folder_main_file(folder_or_file) if folder_or_file.is_dir() else folder_or_file
        if path is None:
            raise _Refused(ImportProblem.NOT_A_SLIDE, f"{folder_or_file.name!r} is no slide folder")
        refusal = kind_refusal(folder_or_file, path)
        if refusal is not None:
            raise _Refused(*refusal)
        try:
            from_name = parse_scan_name(folder_or_file.name)
        except WorklistError as exc:
            raise _Refused(
                ImportProblem.BAD_NAME,
                f"the file name {folder_or_file.name!r} is not usable: {exc}",
            ) from exc
        try:
            probe = self.runner.probe(path)
        except SlideTooLargeError as exc:
            raise _Refused(
                ImportProblem.TOO_LARGE, f"the slide is larger than this service tiles: {exc}"
            ) from exc
        except TilingError as exc:
            raise _Refused(ImportProblem.UNREADABLE, f"the slide cannot be read: {exc}") from exc
        if from_name is not None:
            return from_name
        try:
            from_barcode = parse_scan_name(probe.barcode) if probe.barcode else None
        except WorklistError:
            from_barcode = None
        if from_barcode is None:
            barcode = f"its barcode {probe.barcode!r}" if probe.barcode else "it has no barcode"
            raise _Refused(
                ImportProblem.BAD_NAME,
                f"the file name {folder_or_file.name!r} holds no accession number (expected e.g. "
                f"ALR-T26-00123_A1_HE.svs) and {barcode} holds none either",
            )
        return from_barcode

    def _case_id(self, accession_number: str) -> int:
        with read_session(self.engine) as session:
            case_id = session.scalar(
                select(Case.id).where(Case.accession_number == accession_number)
            )
        if case_id is None:
            raise _Refused(
                ImportProblem.NO_CASE, f"no case has the accession number {accession_number!r}"
            )
        return case_id

    def _check_case(self, case_id: int, name: ScanName, folder: str) -> bool:
        """Refuse a file from another department's folder or naming a block the case does not
        have; True when the case is signed out already (the slide is flagged)."""
        with read_session(self.engine) as session:
            case = session.get(Case, case_id)
            assert case is not None
            department = session.get(Department, case.department_id)
            code = department.code if department is not None else "?"
            blocks = {b.label for s in case.specimens for b in s.blocks}
            signed_out = case.status is CaseStatus.SIGNED_OUT
        if code != folder:
            raise _Refused(
                ImportProblem.WRONG_DEPARTMENT,
                f"case {name.accession_number} belongs to department {code}, but the file was "
                f"dropped in {folder}'s folder; it is not accepted from another department",
            )
        block = name.labels.block
        if block is not None and block not in blocks:
            known = ", ".join(sorted(blocks)) or "none"
            raise _Refused(
                ImportProblem.UNKNOWN_BLOCK,
                f"case {name.accession_number} has no block {block} (its blocks: {known}); "
                "link the file to the right block or discard it",
            )
        return signed_out

    def _check_quota(self, case_id: int) -> None:
        """Refuse the file while the case's department's pyramids take their disk quota."""
        with read_session(self.engine) as session:
            case = session.get(Case, case_id)
            assert case is not None
            department_id = case.department_id
        try:
            check_pyramid_quota(
                engine=self.engine, settings=self.settings, department_id=department_id
            )
        except PyramidQuotaExceededError as exc:
            raise _Refused(ImportProblem.QUOTA, str(exc)) from exc

    def _registered_with(self, digest: str) -> str | None:
        """Why a file with this content is a duplicate, or None if it is new."""
        with read_session(self.engine) as session:
            earlier = session.scalar(
                select(ImportedFile).where(
                    ImportedFile.sha256 == digest,
                    ImportedFile.outcome == ImportOutcome.REGISTERED,
                )
            )
        if earlier is None:
            return None
        return (
            f"the same file was imported on {earlier.seen_at:%Y-%m-%d %H:%M} UTC from "
            f"{Path(earlier.source_path).name!r} as slide {earlier.slide_id} of case "
            f"{earlier.accession_number}; it is not registered twice"
        )

    def _register(
        self, seen: _Seen, digest: str, name: ScanName, case_id: int, *, signed_out: bool
    ) -> ImportResult:
        target = slide_storage_path(self.settings, name.accession_number, seen.path.name)
        main = folder_main_file(seen.path) if seen.path.is_dir() else None
        store = store_tree if main is not None else store_slide_file
        store(seen.path, target)
        slide_file = target / main.relative_to(seen.path) if main is not None else target
        flag = (
            f"case {name.accession_number} was signed out before this slide arrived: a "
            "post-sign-out slide (an addendum may be needed)"
            if signed_out
            else ""
        )

        def record(session: Session, slide: Slide) -> None:
            row = self._row(
                seen, digest, ImportOutcome.REGISTERED, flag, name.accession_number,
                slide_id=slide.id, stored_path=str(target),
            )  # fmt: skip
            if signed_out:
                row.problem = ImportProblem.POST_SIGN_OUT.value
                row.queue_status = QueueStatus.FLAGGED.value
            session.add(row)
            session.flush()

        try:
            registration = register_slide_file(
                engine=self.engine,
                settings=self.settings,
                actor=Actor.system("coupe-import"),
                case_id=case_id,
                labels=name.labels,
                file_path=slide_file,
                origin="import after sign-out" if signed_out else "import",
                also=record,
            )
        except BaseException as exc:
            store(target, seen.path)  # put it back where the scanner left it
            if isinstance(exc, IntegrityError):  # another importer registered it just now
                reason = self._registered_with(digest) or f"registered concurrently: {exc}"
                return self._record(seen, digest, ImportOutcome.DUPLICATE, reason, None)
            if isinstance(exc, WorklistError):
                raise _Refused(
                    ImportProblem.REGISTRATION_FAILED, f"registering the slide failed: {exc}"
                ) from exc
            raise
        _sidecar(seen.path).unlink(missing_ok=True)
        log.info("imported %s as slide %d", seen.path, registration.slide_id)
        done = (
            f"registered as slide {registration.slide_id} of case {registration.accession_number}"
        )
        return ImportResult(
            seen.path,
            ImportOutcome.REGISTERED,
            f"{done}; {flag}" if flag else done,
            registration.slide_id,
            registration.job_id,
            ImportProblem.POST_SIGN_OUT if signed_out else None,
        )

    def _row(
        self,
        seen: _Seen,
        digest: str | None,
        outcome: ImportOutcome,
        reason: str,
        accession: str | None,
        *,
        slide_id: int | None = None,
        stored_path: str | None = None,
    ) -> ImportedFile:
        return ImportedFile(
            department_code=seen.department,
            source_path=str(seen.path),
            size_bytes=seen.size_bytes,
            mtime_ns=seen.mtime_ns,
            sha256=digest,
            outcome=outcome,
            reason=reason,
            accession_number=accession,
            slide_id=slide_id,
            stored_path=stored_path,
            seen_at=datetime.now(UTC),
        )

    def _record(
        self,
        seen: _Seen,
        digest: str | None,
        outcome: ImportOutcome,
        reason: str,
        accession: str | None,
        *,
        problem: ImportProblem | None = None,
    ) -> ImportResult:
        """Leave the file in place and write down why (table, queue and sidecar file)."""
        row = self._row(seen, digest, outcome, reason, accession)
        if outcome is ImportOutcome.REJECTED:
            row.problem = (problem or ImportProblem.UNKNOWN).value
            row.queue_status = QueueStatus.OPEN.value
        run_in_transaction(self.engine, lambda session: session.add(row))
        try:
            _sidecar(seen.path).write_text(
                f"Coupe did not import {seen.path.name} ({row.seen_at:%Y-%m-%d %H:%M:%S} UTC):\n"
                f"{reason}\n\nIt is tried again when the file changes.\n"
            )
        except OSError as exc:
            log.warning("cannot write the import note beside %s: %s", seen.path, exc)
        log.warning("not imported: %s: %s", seen.path, reason)
        return ImportResult(seen.path, outcome, reason, problem=problem)

    # -- background thread

    def start(self) -> None:
        """Scan the folders every ``settings.import_poll_s`` until :meth:`close`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="coupe-import", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.scan_once()
            except Exception:
                log.exception("the folder import hit an error; it goes on")
            self._stopping.wait(self.settings.import_poll_s)

    def close(self) -> None:
        """Stop scanning (after the file in hand)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None


def _is_slide_folder(path: Path) -> bool:
    """A folder holding one multi-file slide (DICOM series, MIRAX), not hidden and no link."""
    return (
        not path.name.startswith(".")
        and path.is_dir()
        and not path.is_symlink()
        and folder_main_file(path) is not None
    )


def _is_candidate(path: Path) -> bool:
    name = path.name
    return (
        not name.startswith(".")
        and not name.endswith(ERROR_SIDECAR_SUFFIX)
        and not name.lower().endswith(_IN_PROGRESS_SUFFIXES)
        and path.is_file()
        and not path.is_symlink()
    )


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ERROR_SIDECAR_SUFFIX)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
