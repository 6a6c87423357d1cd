"""The pyramid builder: a whole-slide image to a Deep Zoom pyramid, as a dask graph.

See ``tiling.plan`` for how the work is cut into blocks. This module runs the graph (on the
local threaded scheduler, or on a dask.distributed cluster), records finished blocks so an
interrupted build resumes, and publishes the result atomically: ``NAME.dzi`` appears last,
so a pyramid with a descriptor is always complete.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiling.archive import write_archive
from tiling.blocks import (
    BACKGROUND_MODES,
    BackgroundMode,
    BlockOutcome,
    BuildContext,
    close_cached_source,
    run_block,
)
from tiling.deepzoom import DeepZoomGeometry
from tiling.errors import PyramidBuildError, PyramidBusyError, PyramidExistsError
from tiling.limits import SlideLimits
from tiling.manifest import JOURNAL_NAME, MANIFEST_NAME, BuildJournal, BuildManifest
from tiling.plan import BlockId, plan_build
from tiling.sources import open_slide
from tiling.spec import TileSpec
from tiling.tissue import BackgroundDetector

__all__ = [
    "BuildResult",
    "BuildRun",
    "ProgressCallback",
    "PyramidOptions",
    "SlideLimits",
    "TileSpec",
    "build_pyramid",
    "pyramid_name",
]

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(tiles_done, tiles_total)`` while a build runs."""

_SAFE_NAME = re.compile(r"^[^/\\\x00]+$")


@dataclass(frozen=True)
class PyramidOptions:
    """What pyramid to build: its tiles (``spec``) and how its pixels are made.

    ``background`` says what becomes of tiles without tissue (as ``detector`` judges them):
    written like any other, skipped, or hard-linked to one shared file per tile size.
    ``levels_per_block`` is how many levels one block task downsamples (see ``tiling.plan``).
    """

    spec: TileSpec = field(default_factory=TileSpec)
    background: BackgroundMode = "write"
    levels_per_block: int = 3
    detector: BackgroundDetector = field(default_factory=BackgroundDetector)

    def __post_init__(self) -> None:
        if self.background not in BACKGROUND_MODES:
            raise ValueError(
                f"background handling {self.background!r} is not one of "
                f"{', '.join(BACKGROUND_MODES)}"
            )
        if self.levels_per_block < 1:
            raise ValueError(f"levels_per_block must be at least 1, not {self.levels_per_block}")


@dataclass(frozen=True)
class BuildRun:
    """How a build runs, which does not change the pyramid it makes.

    ``workers`` local threads (default: one per core), or the dask.distributed cluster at
    ``scheduler_address``; ``archive`` also writes ``NAME.zip`` once the pyramid is complete.
    """

    workers: int | None = None
    scheduler_address: str | None = None
    archive: bool = False

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"worker count must be at least 1, not {self.workers}")


@dataclass(frozen=True)
class BuildResult:
    """What a build produced."""

    dzi_path: Path
    files_dir: Path
    archive_path: Path | None
    geometry: DeepZoomGeometry
    tiles_total: int
    tiles_written: int
    tiles_background: int
    blocks_total: int
    blocks_resumed: int
    seconds: float
    already_complete: bool


def pyramid_name(slide_path: Path) -> str:
    """The default pyramid name: the slide's file name without its extension."""
    return slide_path.stem


def build_pyramid(
    slide_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: PyramidOptions | None = None,
    *,
    run: BuildRun | None = None,
    name: str | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    limits: SlideLimits | None = None,
) -> BuildResult:
    """Build the Deep Zoom pyramid of ``slide_path`` as ``out_dir/NAME.dzi``.

    A build interrupted by a crash or an error resumes where it stopped when run again with
    the same options; a complete pyramid built with the same options is left as it is (``run``
    does not count: a build may resume on other workers). A complete pyramid built from
    another slide file or with other options raises ``PyramidExistsError``, naming what
    differs, unless ``overwrite``: then it is rebuilt and replaced. A slide over ``limits``
    (default: none) raises ``SlideTooLargeError`` before any tile is planned or written.
    Raises ``TilingError`` subclasses with a message naming the slide for every failure.
    """
    options = options or PyramidOptions()
    run = run or BuildRun()
    spec = options.spec
    started = time.perf_counter()
    slide = Path(slide_path).resolve()
    out = Path(out_dir).resolve()
    name = name or pyramid_name(slide)
    if not _SAFE_NAME.match(name) or name in {".", ".."}:
        raise PyramidBuildError(f"pyramid name {name!r} is not a valid file name")
    with open_slide(slide, backend=spec.backend) as source:
        geometry = (limits or SlideLimits.unlimited()).check(str(slide), source, spec)
        background_rgb = source.background_rgb
    stat = slide.stat()
    manifest = BuildManifest(
        slide_path=str(slide),
        slide_size_bytes=stat.st_size,
        slide_mtime_ns=stat.st_mtime_ns,
        spec=spec,
        background=options.background,
        levels_per_block=options.levels_per_block,
    )
    plan = plan_build(geometry, levels_per_block=options.levels_per_block)
    _make_output_dir(out)
    dzi_path = out / f"{name}.dzi"
    files_dir = out / f"{name}_files"
    archive_path = out / f"{name}.zip" if run.archive else None
    with _exclusive_lock(out / f".{name}.lock", name):
        existing = BuildManifest.read(files_dir / MANIFEST_NAME) if dzi_path.exists() else None
        if dzi_path.exists() and existing != manifest and not overwrite:
            raise _exists_error(dzi_path, existing, manifest)
        if dzi_path.exists() and existing == manifest:
            if archive_path is not None and not archive_path.exists():
                write_archive(dzi_path, archive_path)
            if progress is not None:
                progress(geometry.tile_count, geometry.tile_count)
            return BuildResult(
                dzi_path, files_dir, archive_path, geometry, geometry.tile_count,
                0, 0, plan.block_count, plan.block_count,
                time.perf_counter() - started, already_complete=True,
            )  # fmt: skip
        build_dir = _prepare_build_dir(out / f".{name}.building", name, manifest)
        journal = BuildJournal(build_dir / JOURNAL_NAME)
        done = journal.done_blocks()
        context = BuildContext(
            slide_path=str(slide),
            backend=spec.backend,
            plan=plan,
            encoder=spec.encoder,
            background=options.background,
            detector=options.detector,
            background_rgb=background_rgb,
            files_dir=str(build_dir / f"{name}_files"),
            cores_dir=str(build_dir / "cores"),
            shared_dir=str(build_dir / "shared"),
        )
        for level in range(geometry.level_count):
            (build_dir / f"{name}_files" / str(level)).mkdir(parents=True, exist_ok=True)
        outcomes = _run_graph(context, done, journal, run, progress)
        _publish(build_dir, name, manifest, dzi_path, files_dir, geometry, spec.tile_format)
        if archive_path is not None:
            write_archive(dzi_path, archive_path)
        shutil.rmtree(build_dir, ignore_errors=True)
    return BuildResult(
        dzi_path=dzi_path,
        files_dir=files_dir,
        archive_path=archive_path,
        geometry=geometry,
        tiles_total=geometry.tile_count,
        tiles_written=sum(o.tiles_written for o in outcomes),
        tiles_background=sum(o.tiles_background for o in outcomes),
        blocks_total=plan.block_count,
        blocks_resumed=len(done),
        seconds=time.perf_counter() - started,
        already_complete=False,
    )


def _make_output_dir(out: Path) -> None:
    """Create ``out``; a file in its place, or one of its parents a file, is refused by name."""
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                what = "the output folder" if folder == out else f"{str(folder)!r}"
                raise PyramidBuildError(
                    f"cannot write the pyramid to {str(out)!r}: {what} is a file, not a folder"
                )
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PyramidBuildError(
            f"cannot create the output folder {str(out)!r}: {exc.strerror or exc}"
        ) from exc


def _exists_error(
    dzi_path: Path, existing: BuildManifest | None, wanted: BuildManifest
) -> PyramidExistsError:
    if existing is None:
        how = "not by Coupe, or with its manifest lost"
    else:
        how = "with " + "; ".join(wanted.differences(existing))
    return PyramidExistsError(f"pyramid {str(dzi_path)!r} exists, built {how}")


@contextmanager
def _exclusive_lock(path: Path, name: str) -> Iterator[None]:
    """Refuse a second build of the same pyramid while one runs (across processes)."""
    try:
        lock_file = path.open("a")
    except OSError as exc:
        # The first file a build writes: where a folder refuses writing, it shows here.
        raise PyramidBuildError(
            f"cannot write in the output folder {str(path.parent)!r}: {exc.strerror or exc}"
        ) from exc
    with lock_file:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PyramidBusyError(
                f"pyramid {name!r} is being built by another process (lock {str(path)!r})"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _prepare_build_dir(build_dir: Path, name: str, manifest: BuildManifest) -> Path:
    """Reuse an interrupted build of the same slide and options; otherwise start afresh."""
    if build_dir.exists() and BuildManifest.read(build_dir / MANIFEST_NAME) != manifest:
        shutil.rmtree(build_dir)
    for sub in (f"{name}_files", "cores", "shared"):
        (build_dir / sub).mkdir(parents=True, exist_ok=True)
    manifest.write(build_dir / MANIFEST_NAME)
    return build_dir


def _block_key(token: str, block: BlockId) -> tuple[str, int, int, int]:
    return (f"coupe-block-{token}", *block)


def _task_graph(context: BuildContext, done: set[BlockId], token: str) -> dict[Any, Any]:
    """The dask graph of the blocks still to build; keys are unique to this build."""
    graph: dict[Any, Any] = {}
    for block in context.plan.block_ids():
        if block in done:
            continue
        dependencies = [
            _block_key(token, b) for b in context.plan.input_blocks(block) if b not in done
        ]
        graph[_block_key(token, block)] = (
            functools.partial(run_block, context, block),
            *dependencies,
        )
    return graph


def _run_graph(
    context: BuildContext,
    done: set[BlockId],
    journal: BuildJournal,
    run: BuildRun,
    progress: ProgressCallback | None,
) -> list[BlockOutcome]:
    plan = context.plan
    tiles_total = plan.geometry.tile_count
    tiles_done = sum(plan.block_tile_count(b) for b in done)
    outcomes: list[BlockOutcome] = []
    if progress is not None:
        progress(tiles_done, tiles_total)

    def finished(outcome: BlockOutcome) -> None:
        nonlocal tiles_done
        journal.record(outcome.block)
        outcomes.append(outcome)
        tiles_done += plan.block_tile_count(outcome.block)
        if progress is not None:
            progress(tiles_done, tiles_total)

    graph = _task_graph(context, done, uuid.uuid4().hex)
    if not graph:
        return outcomes
    try:
        if run.scheduler_address:
            _run_distributed(graph, run.scheduler_address, finished)
        else:
            _run_local(graph, run.workers, finished)
    except PyramidBuildError:
        raise
    except Exception as exc:
        raise PyramidBuildError(
            f"building the pyramid of {context.slide_path!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        close_cached_source(context.slide_path)
    return outcomes


def _run_local(
    graph: dict[Any, Any], workers: int | None, finished: Callable[[BlockOutcome], None]
) -> None:
    import dask.threaded
    from dask.callbacks import Callback

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        finished(result)

    # Threads, not processes: the codecs and Pillow release the GIL, and threads share the
    # open slide and its decoded-tile bookkeeping at no cost.
    with Callback(posttask=posttask):
        dask.threaded.get(graph, list(graph), num_workers=workers or os.cpu_count() or 1)


def _run_distributed(
    graph: dict[Any, Any], address: str, finished: Callable[[BlockOutcome], None]
) -> None:
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except OSError as exc:
        raise PyramidBuildError(f"cannot reach the dask scheduler at {address!r}: {exc}") from exc
    with client:
        futures = client.get(graph, list(graph), sync=False)
        for future in as_completed(futures, loop=client.loop):
            finished(future.result())
            future.release()


def _publish(
    build_dir: Path,
    name: str,
    manifest: BuildManifest,
    dzi_path: Path,
    files_dir: Path,
    geometry: DeepZoomGeometry,
    tile_format: str,
) -> None:
    """Move the finished tiles into place; the descriptor is written last."""
    built_files = build_dir / f"{name}_files"
    manifest.write(built_files / MANIFEST_NAME)
    dzi_path.unlink(missing_ok=True)
    if files_dir.exists():
        os.replace(files_dir, build_dir / "replaced_files")
    os.replace(built_files, files_dir)
    partial = dzi_path.with_name(dzi_path.name + ".partial")
    partial.write_text(geometry.dzi_xml(tile_format), encoding="utf-8")
    os.replace(partial, dzi_path)
