"""Scanner file names name the case, block and stain; slide labels are checked once."""

from __future__ import annotations

import pytest

from worklist.errors import ValidationError
from worklist.labels import SlideLabels
from worklist.scan_names import parse_scan_name


@pytest.mark.parametrize(
    ("name", "accession", "specimen", "block", "stain"),
    [
        ("ALR-T26-000123_A1_HE.svs", "ALR-T26-000123", "A", "A1", "H&E"),
        ("alr-t26-000123_b12_CD20_scan2.ndpi", "ALR-T26-000123", "B", "B12", "CD20"),
        ("HMC-C25-00042.svs", "HMC-C25-00042", "A", None, "H&E"),
        ("LUMC-T24-7 A3.ome.tif", "LUMC-T24-7", "A", "A3", "H&E"),
    ],
)
def test_file_names_name_the_case_block_and_stain(
    name: str, accession: str, specimen: str, block: str | None, stain: str
) -> None:
    parsed = parse_scan_name(name)
    assert parsed is not None
    assert parsed.accession_number == accession
    assert (parsed.labels.specimen, parsed.labels.block, parsed.labels.stain) == (
        specimen,
        block,
        stain,
    )


@pytest.mark.parametrize("name", ["scan_0001.svs", "T26-000123.svs", "ALR-X26-1.svs", ".svs"])
def test_other_file_names_hold_no_accession(name: str) -> None:
    assert parse_scan_name(name) is None


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"specimen": "a"}, "specimen label 'a'"),
        ({"block": "A"}, "block label 'A'"),
        ({"specimen": "B", "block": "A1"}, "does not belong to specimen 'B'"),
        ({"stain": "<script>"}, "is not a stain name"),
    ],
)
def test_impossible_labels_are_refused(labels: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SlideLabels(**labels)  # type: ignore[arg-type]
