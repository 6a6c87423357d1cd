"""Shared fixtures: the real sample slides, fetched once into the user cache, and one dask
cluster of worker processes for the tests that need one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask
import pytest

from tiling.samples import fetch_sample


@pytest.fixture(scope="session")
def cmu_small_region() -> Path:
    """CMU-1-Small-Region.svs: a real H&E Aperio slide (2220 x 2967, 240 px JPEG tiles)."""
    return fetch_sample("CMU-1-Small-Region.svs")


@pytest.fixture(scope="session")
def boxes_tiff() -> Path:
    """boxes.tiff: a generic tiled TIFF pyramid with non-power-of-two downsamples."""
    return fetch_sample("boxes.tiff")


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[str]:
    """Two dask worker processes (one thread each) for the whole session, started by the first
    test that asks for them; yields the scheduler address.

    A task that kills its worker is not retried on the other, so a crash shows at once; the
    nanny starts a new worker in its place.
    """
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=50,
        ) as cluster,
    ):
        yield cluster.scheduler_address
