"""Accession numbers: ``{site}-{T|C|O}{yy}-{seq}``, e.g. ``HMC-T25-00042``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worklist.enums import CaseType
from worklist.errors import ValidationError

SEQ_DIGITS = 5
ACCESSION_REGEX = r"(?P<site>[A-Z][A-Z0-9]{1,7})-(?P<type>[TCO])(?P<yy>\d{2})-(?P<seq>\d{1,7})"
"""An accession number as a regular expression (unanchored, for embedding in longer names)."""
_PATTERN = re.compile(f"^{ACCESSION_REGEX}$")


@dataclass(frozen=True, slots=True)
class Accession:
    """The parts of an accession number."""

    site: str
    case_type: CaseType
    year_2digit: int
    seq: int

    def __str__(self) -> str:
        return format_accession(self.site, self.case_type, self.year_2digit, self.seq)


def format_accession(site: str, case_type: CaseType, year: int, seq: int) -> str:
    """Format an accession number; ``year`` may be four digits or two."""
    if seq < 1:
        raise ValidationError(f"accession sequence must be positive, got {seq}")
    return f"{site}-{case_type.value}{year % 100:02d}-{seq:0{SEQ_DIGITS}d}"


def parse_accession(text: str) -> Accession:
    """Split an accession number into its parts, or raise :class:`ValidationError`."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValidationError(
            f"accession number {text!r} does not look like SITE-T25-00001 "
            "(site, T/C/O, two-digit year, sequence)"
        )
    return Accession(
        site=match["site"],
        case_type=CaseType(match["type"]),
        year_2digit=int(match["yy"]),
        seq=int(match["seq"]),
    )
