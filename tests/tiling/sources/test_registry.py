from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from tests.tiling.sources.slide_source_tests import TIFF_RESOLUTIONS, write_tiff_with_resolution
from tiling.errors import (
    SlideNotFoundError,
    SlideReadError,
    TilingError,
    TruncatedSlideError,
    UnsupportedSlideError,
)
from tiling.samples import fetch_sample
from tiling.sources import (
    BackendName,
    OpenSlideSource,
    PillowSource,
    TiffFileSource,
    backend_names,
    candidates,
    open_slide,
    registry,
)
from tiling.sources.base import Backend, BackendOpenError

BACKENDS = ("tifffile", "openslide", "pillow")

# (file, {backend: score}); a backend missing from the dict scores 0.
CAN_READ = {
    "CMU-1-Small-Region.svs": {"tifffile": 90, "openslide": 80},
    "small.svs": {"tifffile": 90, "openslide": 80},
    "boxes.tiff": {"tifffile": 90, "openslide": 80},
    "boxes.png": {"pillow": 70},
    "boxes_0.dcm": {"openslide": 80},
    # Broken files still sniff as what they claim to be; opening tells them apart.
    "unopenable.tiff": {"tifffile": 90, "openslide": 80},
    "unreadable.svs": {"tifffile": 90, "openslide": 80},
}

PICKED = {
    "CMU-1-Small-Region.svs": (TiffFileSource, "aperio"),
    "small.svs": (TiffFileSource, "aperio"),
    "boxes.tiff": (TiffFileSource, "generic-tiff"),
    "boxes.png": (PillowSource, "png"),
    "boxes_0.dcm": (OpenSlideSource, "dicom"),
}


@pytest.fixture
def random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "random.svs"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def test_backend_names() -> None:
    assert backend_names() == BACKENDS
    assert get_args(BackendName) == BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CAN_READ))
def test_can_read_matrix(name: str, backend: str) -> None:
    path = fetch_sample(name)
    if name == "boxes_0.dcm":
        fetch_sample("boxes_1.dcm")
    (declared,) = (b for b in registry.BACKENDS if b.name == backend)
    assert declared.can_read(path) == CAN_READ[name].get(backend, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nobody_reads_random_bytes(random_bytes: Path, backend: str) -> None:
    (declared,) = (b for b in registry.BACKENDS if b.name == backend)
    assert declared.can_read(random_bytes) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_can_read_a_missing_file_is_zero(tmp_path: Path, backend: str) -> None:
    (declared,) = (b for b in registry.BACKENDS if b.name == backend)
    assert declared.can_read(tmp_path / "missing.svs") == 0


def test_candidates_best_first() -> None:
    assert candidates(fetch_sample("CMU-1-Small-Region.svs")) == [
        ("tifffile", 90),
        ("openslide", 80),
    ]
    assert candidates(fetch_sample("boxes.png")) == [("pillow", 70)]


def test_backends_declare_what_they_prefer() -> None:
    for backend in registry.BACKENDS:
        assert backend.description
        assert all(ext.startswith(".") for ext in backend.extensions)


@pytest.mark.parametrize("name", sorted(PICKED))
def test_open_slide_picks_the_expected_backend(name: str) -> None:
    fetch_sample("boxes_1.dcm")
    expected_type, expected_format = PICKED[name]
    with open_slide(fetch_sample(name)) as slide:
        assert type(slide) is expected_type
        assert slide.format_name == expected_format
        assert slide.read_region((0, 0), 0, (8, 8)).shape == (8, 8, 3)


def test_open_slide_with_a_named_backend() -> None:
    with open_slide(fetch_sample("boxes.tiff"), backend="openslide") as slide:
        assert isinstance(slide, OpenSlideSource)
    with pytest.raises(ValueError, match="unknown backend 'vips'"):
        open_slide(fetch_sample("boxes.tiff"), backend="vips")


def test_open_slide_passes_decode_threads() -> None:
    with open_slide(fetch_sample("small.svs"), decode_threads=1) as slide:
        assert isinstance(slide, TiffFileSource)
        assert slide._threads == 1


def test_open_slide_falls_back_to_the_next_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path, decode_threads: int | None) -> TiffFileSource:
        raise BackendOpenError(str(path), "tifffile", "simulated failure")

    broken: Backend = dataclasses.replace(registry._BY_NAME["tifffile"], open=refuse)
    monkeypatch.setitem(registry._BY_NAME, "tifffile", broken)
    with open_slide(fetch_sample("CMU-1-Small-Region.svs")) as slide:
        assert isinstance(slide, OpenSlideSource)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.svs"
    with pytest.raises(SlideNotFoundError, match=r"missing\.svs"):
        open_slide(missing)
    with pytest.raises(FileNotFoundError):  # callers may catch the builtin too
        open_slide(missing)


def test_unopenable_file_gives_one_clear_error() -> None:
    path = fetch_sample("unopenable.tiff")
    with pytest.raises(UnsupportedSlideError) as caught:
        open_slide(path)
    message = str(caught.value)
    assert message.startswith(f"cannot open slide {str(path)!r}: not a slide format Coupe reads")
    assert "tifffile: " in message and "openslide: " in message
    assert "52479" in message  # the actual reason: an unknown compression
    assert type(caught.value) is UnsupportedSlideError  # no raw library exception


def test_random_bytes_give_one_clear_error(random_bytes: Path) -> None:
    with pytest.raises(UnsupportedSlideError, match=r"random\.svs.*no backend recognises"):
        open_slide(random_bytes)


def test_a_folder_is_not_a_slide(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedSlideError, match="not a file"):
        open_slide(tmp_path)


@pytest.mark.parametrize("backend", [None, "tifffile", "openslide"])
def test_unreadable_slide_opens_but_reading_raises(backend: str | None) -> None:
    path = fetch_sample("unreadable.svs")
    with open_slide(path, backend=backend) as slide:
        with pytest.raises(SlideReadError, match=r"unreadable\.svs.*level 0 region at \(0, 0\)"):
            slide.read_region((0, 0), 0, (16, 16))
        assert slide.associated_image_names == ("thumbnail",)


def test_every_error_is_a_tiling_error(tmp_path: Path, random_bytes: Path) -> None:
    for path in (tmp_path / "missing", random_bytes, fetch_sample("unopenable.tiff")):
        with pytest.raises(TilingError):
            open_slide(path)


# CMU-1-Small-Region.svs keeps its four IFDs at 1,275,950 (level 0, after its tiles),
# 1,474,362 (thumbnail), 1,850,194 (label) and 1,938,212 (macro), in 1,938,955 bytes.
@pytest.mark.parametrize(
    ("cut_at", "points_to"),
    [
        (800_000, 1_275_950),  # level 0's tiles half there, its directory gone
        (1_300_000, 1_474_362),  # level 0 whole: tifffile read it and said nothing
        (1_938_900, 1_938_955),  # only the macro directory's last tag values cut off
    ],
)
@pytest.mark.parametrize("backend", [None, "tifffile", "openslide"])
def test_a_truncated_copy_is_refused_with_where_it_ends(
    tmp_path: Path, cut_at: int, points_to: int, backend: str | None
) -> None:
    whole = fetch_sample("CMU-1-Small-Region.svs").read_bytes()
    copy = tmp_path / "copy.svs"
    copy.write_bytes(whole[:cut_at])
    with pytest.raises(TruncatedSlideError, match="incomplete copy") as raised:
        open_slide(copy, backend=backend)
    message = str(raised.value)
    assert f"the file ends at byte {cut_at} but its directory points to {points_to}:" in message
    assert isinstance(raised.value, UnsupportedSlideError)


@pytest.mark.parametrize("name", ["CMU-1-Small-Region.svs", "small.svs", "boxes.tiff"])
def test_whole_tiffs_are_not_taken_for_truncated(name: str) -> None:
    with open_slide(fetch_sample(name)) as slide:
        assert slide.dimensions[0] > 0


@pytest.mark.parametrize("backend", ["tifffile", "openslide"])
@pytest.mark.parametrize(("resolution", "unit", "expected_mpp"), TIFF_RESOLUTIONS)
def test_only_a_microscopes_resolution_is_reported_as_mpp(
    tmp_path: Path,
    backend: str,
    resolution: tuple[float, float],
    unit: str,
    expected_mpp: tuple[float, float] | None,
) -> None:
    path = write_tiff_with_resolution(tmp_path / "slide.tiff", resolution, unit)
    with open_slide(path, backend=backend) as slide:
        assert slide.format_name == "generic-tiff"
        if expected_mpp is None:
            assert slide.mpp is None
        else:
            assert slide.mpp == pytest.approx(expected_mpp)
