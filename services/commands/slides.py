"""Slide commands: ``coupe tile``, ``coupe info`` and ``coupe slides purge-withdrawn``."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from tiling.blocks import BackgroundMode
from tiling.encode import TileFormat
from tiling.errors import PyramidExistsError, TilingError
from tiling.pyramid import BuildResult, BuildRun, ProgressCallback, PyramidOptions, build_pyramid
from tiling.sources import BackendName, open_slide
from tiling.spec import TileSpec


def register(app: typer.Typer) -> None:
    """Add the slide commands to ``app``."""
    app.command("tile")(tile)
    app.command("info")(info)
    slides_app = typer.Typer(help="The service's slides: purge the withdrawn ones.")
    slides_app.command("purge-withdrawn")(purge_withdrawn)
    app.add_typer(slides_app, name="slides", no_args_is_help=True)


@contextmanager
def _progress_bar(console: Console, label: str) -> Iterator[ProgressCallback]:
    """A terminal progress bar fed by the builder's ``progress(done, total)`` callback."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


USAGE_ERROR_EXIT = 2
"""A user's mistake (a broken slide, an unwritable folder, a bad option): one line, this code."""
INTERRUPTED_EXIT = 130
"""Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""


def _fail(console: Console, message: str) -> typer.Exit:
    # One line however wide the terminal, and the message as text: paths may hold "[...]".
    console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(code=USAGE_ERROR_EXIT)


def tile(
    slide: Annotated[Path, typer.Argument(help="The whole-slide image to tile.")],
    outdir: Annotated[Path, typer.Argument(help="Folder for NAME.dzi and NAME_files/.")],
    tile_size: Annotated[int, typer.Option(help="Tile size in pixels, overlap excluded.")] = 254,
    overlap: Annotated[int, typer.Option(help="Pixels each tile shares with its neighbours.")] = 1,
    tile_format: Annotated[TileFormat, typer.Option("--format", help="Tile format.")] = "jpeg",
    quality: Annotated[int, typer.Option(help="JPEG/WebP quality, 1-100.")] = 75,
    limit_bounds: Annotated[
        bool, typer.Option("--limit-bounds", help="Tile only the slide's non-empty region.")
    ] = False,
    background: Annotated[
        BackgroundMode,
        typer.Option(help="Tiles without tissue: written, skipped, or all one shared file."),
    ] = "write",
    workers: Annotated[
        int | None, typer.Option(help="Local worker threads (default: one per core).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="dask.distributed scheduler address, e.g. tcp://host:8786."),
    ] = None,
    archive: Annotated[
        bool, typer.Option("--archive", help="Also write NAME.zip, the pyramid in one file.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Pyramid name (default: file stem).")] = None,
    backend: Annotated[
        BackendName | None,
        typer.Option(help="Force a slide reader (default: the one sniffing finds best)."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace a finished pyramid built with other options."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Build the Deep Zoom pyramid of SLIDE as OUTDIR/NAME.dzi (resumes an interrupted build)."""
    console = Console(stderr=True)
    try:
        spec = TileSpec(
            tile_size_px=tile_size,
            overlap_px=overlap,
            tile_format=tile_format,
            quality=quality,
            limit_bounds=limit_bounds,
            backend=backend,
        )
        options = PyramidOptions(spec=spec, background=background)
        run = BuildRun(workers=workers, scheduler_address=scheduler, archive=archive)
    except ValueError as exc:
        raise _fail(console, str(exc)) from exc
    result = _build(
        console, slide, outdir, options, run, name=name, quiet=quiet, overwrite=overwrite
    )
    _report(Console(), result)


def _build(
    console: Console,
    slide: Path,
    outdir: Path,
    options: PyramidOptions,
    run: BuildRun,
    *,
    name: str | None,
    quiet: bool,
    overwrite: bool = False,
) -> BuildResult:
    build = functools.partial(
        build_pyramid, slide, outdir, options, run=run, name=name, overwrite=overwrite
    )
    try:
        if quiet:
            return build()
        with _progress_bar(console, f"Tiling {slide.name}") as progress:
            return build(progress=progress)
    except PyramidExistsError as exc:
        raise _fail(console, f"{exc}; add --overwrite to replace it") from exc
    except TilingError as exc:
        raise _fail(console, str(exc)) from exc
    except KeyboardInterrupt:
        # Finished blocks are in the build's journal: the next run picks up from there.
        console.print("interrupted; run the same command again to resume", soft_wrap=True)
        raise typer.Exit(code=INTERRUPTED_EXIT) from None


def _report(console: Console, result: BuildResult) -> None:
    if result.already_complete:
        console.print(f"{result.dzi_path} is complete already (same slide and options).")
    else:
        rate = result.tiles_total / result.seconds if result.seconds > 0 else 0.0
        resumed = (
            f", resumed {result.blocks_resumed} of {result.blocks_total} blocks"
            if result.blocks_resumed
            else ""
        )
        console.print(
            f"Wrote {result.dzi_path}: {result.geometry.level_count} levels, "
            f"{result.tiles_total:,} tiles in {result.seconds:.2f} s ({rate:,.0f} tiles/s)"
            f"{resumed}."
        )
    if result.archive_path is not None:
        console.print(f"Archive: {result.archive_path}")


def info(slide: Annotated[Path, typer.Argument(help="The whole-slide image.")]) -> None:
    """Print a slide's format, levels, size, resolution and associated images."""
    console = Console()
    try:
        with open_slide(slide) as source:
            table = Table(title=str(slide), show_header=False)
            table.add_row("format", source.format_name)
            table.add_row("backend", type(source).__name__)
            width, height = source.dimensions
            table.add_row("size", f"{width:,} x {height:,} px")
            mpp = source.mpp
            table.add_row("resolution", f"{mpp[0]:.4g} x {mpp[1]:.4g} µm/px" if mpp else "unknown")
            objective = source.objective_power
            table.add_row("objective", f"{objective:g}x" if objective else "unknown")
            if source.bounds is not None:
                bounds = source.bounds
                table.add_row("bounds", f"x={bounds.x} y={bounds.y} {bounds.width}x{bounds.height}")
            levels = ", ".join(
                f"{w:,}x{h:,} (/{d:.4g})"
                for (w, h), d in zip(source.level_dimensions, source.level_downsamples, strict=True)
            )
            table.add_row("levels", f"{len(source.level_dimensions)}: {levels}")
            table.add_row("associated images", ", ".join(source.associated_image_names) or "none")
            console.print(table)
    except TilingError as exc:
        raise _fail(Console(stderr=True), str(exc)) from exc


def purge_withdrawn(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete the files and pyramids of slides withdrawn longer ago than
    COUPE_WITHDRAWN_SLIDE_RETENTION_DAYS (default 90), each purge audited (slide.purge) before
    anything goes; slides not withdrawn, or within the retention period, are never touched."""
    from services.commands.purge import PurgeSetupError, purge_withdrawn_slides

    console = Console()
    try:
        failures = purge_withdrawn_slides(console, dry_run=dry_run)
    except KeyboardInterrupt:
        Console(stderr=True).print(
            "interrupted; run the same command again to finish", soft_wrap=True
        )
        raise typer.Exit(code=INTERRUPTED_EXIT) from None
    except PurgeSetupError as exc:  # a setting, the database: one line
        raise _fail(Console(stderr=True), str(exc)) from exc
    if failures:
        raise typer.Exit(code=1)
