"""The demo's slides: a handful of real-tissue slide files that every demo case's slides share.

Three H&E tissues: the CMU sample itself (a real Aperio scan, 2,220 x 2,967 px with label and
macro) and two slides :mod:`tiling.samples.synthetic` makes from its tissue (8,000 x 6,000 and
20,000 x 15,000), each with an IHC-like restaining of the same tissue
(:mod:`tiling.samples.restain`), so H&E and IHC of a case line up side by side. All have the
sample's 0.499 um/px. Generated files are cached with the fetched samples; the demo keeps its
own copies in the data directory's slide folder (``slides/demo/``), where the service keeps
scanned slides, so the data directory stands on its own.

A case keeps the blocks of the synthetic stream up to :data:`MAX_BLOCKS`, one H&E slide each,
and about half the histology cases get one IHC on their first block: 1-4 slides, all of the
tissue chosen for the case (several slide rows name one file).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from services.settings import Settings
from services.storage import make_private_dir, make_private_file
from tiling.samples import ensure_synthetic_slide, fetch_sample
from tiling.samples.restain import ensure_restained_slide
from worklist.enums import CaseType
from worklist.operations.intake import BlockIntake, CaseIntake, SlideIntake, SpecimenIntake

__all__ = [
    "DEMO_IHC_STAINS",
    "DEMO_SLIDE_FOLDER",
    "HE_STAIN",
    "MAX_BLOCKS",
    "DemoTissue",
    "prepare_demo_tissues",
    "with_demo_slides",
]

HE_STAIN = "H&E"
DEMO_IHC_STAINS = ("Ki-67", "CK7", "CD20", "p53", "ER", "HER2")
DEMO_SLIDE_FOLDER = "demo"
"""The demo's slide files, inside the data directory's slide folder."""
MAX_BLOCKS = 3
IHC_SHARE = 0.5
"""The share of histology cases with an IHC next to the H&E."""
_SYNTHETIC_SIZES_PX = ((8_000, 6_000), (20_000, 15_000))
# How often each tissue is drawn for a case: mostly the quick ones, the large one for scale.
_TISSUE_WEIGHTS = (0.4, 0.4, 0.2)


@dataclass(frozen=True)
class DemoTissue:
    """One tissue of the demo: its H&E slide file and the IHC-like restaining of it."""

    name: str
    width_px: int
    height_px: int
    he_file: Path
    ihc_file: Path

    @property
    def large(self) -> bool:
        """Whether the tissue is the demo's big slide (left to be served on the fly)."""
        return self.width_px * self.height_px > 100_000_000


def _keep(source: Path, folder: Path) -> Path:
    """``source`` in the demo's slide folder: a hard link where possible, else a copy."""
    target = folder / source.name
    if not target.exists():
        partial = folder / f".{source.name}.partial"
        partial.unlink(missing_ok=True)
        try:
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        os.replace(partial, target)
    make_private_file(target)
    return target


def prepare_demo_tissues(console: Console, settings: Settings) -> tuple[DemoTissue, ...]:
    """Fetch the CMU sample, make (or find cached) the synthetic and restained slides, and
    keep them in ``slide_dir/demo``; the tissues, smallest first."""
    folder = settings.slide_dir / DEMO_SLIDE_FOLDER
    make_private_dir(folder)
    sample = fetch_sample("CMU-1-Small-Region.svs")
    sources = [("CMU-1-Small-Region", (2_220, 2_967), sample)]
    for width_px, height_px in _SYNTHETIC_SIZES_PX:
        with console.status(f"Making a {width_px:,} x {height_px:,} px slide of the tissue..."):
            generated = ensure_synthetic_slide("aperio-svs", width_px, height_px)
        sources.append(
            (f"synthetic {width_px:,} x {height_px:,}", (width_px, height_px), generated)
        )
    tissues = []
    for name, (width_px, height_px), he_source in sources:
        with console.status(f"Restaining {name} as IHC..."):
            ihc_source = ensure_restained_slide(he_source)
        tissues.append(
            DemoTissue(
                name=name,
                width_px=width_px,
                height_px=height_px,
                he_file=_keep(he_source, folder),
                ihc_file=_keep(ihc_source, folder),
            )
        )
    return tuple(tissues)


def _material(
    rng: random.Random, case: CaseIntake, tissue: DemoTissue
) -> tuple[SpecimenIntake, ...]:
    """The case's first blocks with one H&E each, and maybe an IHC on the first block."""
    he = SlideIntake(HE_STAIN, str(tissue.he_file))
    with_ihc = case.case_type is CaseType.HISTOLOGY and rng.random() < IHC_SHARE
    ihc = SlideIntake(rng.choice(DEMO_IHC_STAINS), str(tissue.ihc_file))
    specimens: list[SpecimenIntake] = []
    kept = 0
    for specimen in case.specimens:
        blocks = []
        for block in specimen.blocks[: MAX_BLOCKS - kept]:
            slides = (he, ihc) if with_ihc and kept == 0 else (he,)
            blocks.append(BlockIntake(block.label, slides))
            kept += 1
        if blocks:
            specimens.append(replace(specimen, blocks=tuple(blocks)))
    if not specimens:  # the stream always has material; a case without any gets one block
        specimens.append(SpecimenIntake("A", blocks=(BlockIntake("A1", (he,)),)))
    return tuple(specimens)


def with_demo_slides(
    cases: Sequence[CaseIntake], tissues: Sequence[DemoTissue], *, seed: int
) -> list[CaseIntake]:
    """``cases`` with their material cut to 1-4 slides, every slide naming a demo file."""
    rng = random.Random(seed)
    shaped = []
    for case in cases:
        tissue = rng.choices(tissues, _TISSUE_WEIGHTS[: len(tissues)])[0]
        shaped.append(replace(case, specimens=_material(rng, case, tissue)))
    return shaped
