"""Slide labels: where a slide belongs in its case (specimen ``A``, block ``A1``, stain).

Uploads, the scanner import and the demo name a slide this way; the labels are checked once,
here, so a slide never lands in a block of another specimen or under a made-up stain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worklist.errors import ValidationError

__all__ = ["SlideLabels"]

_SPECIMEN = re.compile(r"^[A-Z]{1,2}$")
_BLOCK = re.compile(r"^(?P<specimen>[A-Z]{1,2})\d{1,3}$")
_STAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 &+\-./()]{0,63}$")


@dataclass(frozen=True, slots=True)
class SlideLabels:
    """Where a slide belongs in its case: specimen (``A``), block (``A1``) and stain.

    Without a block the file fills the case's first unscanned slide with that stain, or
    becomes a new slide in block ``<specimen>1``. Raises ``ValidationError`` for labels that
    cannot be.
    """

    specimen: str = "A"
    block: str | None = None
    stain: str = "H&E"

    def __post_init__(self) -> None:
        if not _SPECIMEN.match(self.specimen):
            raise ValidationError(f"specimen label {self.specimen!r} is not like 'A' or 'AB'")
        if self.block is not None:
            match = _BLOCK.match(self.block)
            if match is None:
                raise ValidationError(f"block label {self.block!r} is not like 'A1'")
            if match["specimen"] != self.specimen:
                raise ValidationError(
                    f"block {self.block!r} does not belong to specimen {self.specimen!r}"
                )
        if not _STAIN.match(self.stain):
            raise ValidationError(
                f"stain {self.stain!r} is not a stain name (letters, digits, '&+-./()', "
                "at most 64 characters)"
            )
