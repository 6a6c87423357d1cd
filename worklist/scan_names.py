"""Scanner file names: ``ALR-T26-00123[_A1][_HE][_anything].svs`` names a case and a slide.

The name starts with the case's accession number (:mod:`worklist.accession`), then optionally
the block (``A1``: block 1 of specimen ``A``) and the stain (``HE`` is H&E), then anything the
scanner adds. A scanner that writes a barcode into the slide's properties uses the same form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worklist.accession import ACCESSION_REGEX
from worklist.labels import SlideLabels

__all__ = ["ScanName", "parse_scan_name"]

_SCAN_NAME = re.compile(
    rf"^(?P<accession>{ACCESSION_REGEX})"
    r"(?:[_ ](?P<block>[A-Z]{1,2}\d{1,3}))?"
    r"(?:[_ ](?P<stain>[A-Z0-9][A-Z0-9&+-]{0,31}))?"
    r"(?:[_ ].*)?$",
    re.IGNORECASE,
)
_STAIN_NAMES = {"HE": "H&E", "H-E": "H&E", "H+E": "H&E"}


@dataclass(frozen=True, slots=True)
class ScanName:
    """What a scanner file name (or barcode) says: the case and where the slide belongs."""

    accession_number: str
    labels: SlideLabels


def parse_scan_name(text: str) -> ScanName | None:
    """Read ``ALR-T26-00123_A1_HE.svs`` (block and stain optional); None if it is no such name.

    Raises ``ValidationError`` for a recognisable name with impossible labels.
    """
    stem = text.split(".", 1)[0]
    match = _SCAN_NAME.match(stem)
    if match is None:
        return None
    block = match["block"].upper() if match["block"] else None
    specimen = block.rstrip("0123456789") if block else "A"
    stain = match["stain"] or "HE"
    stain = _STAIN_NAMES.get(stain.upper(), stain)
    return ScanName(match["accession"].upper(), SlideLabels(specimen, block, stain))
