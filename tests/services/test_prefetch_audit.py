"""The audit of "Next case": fetched ahead is recorded as such, opening it as the opening.

The web app prefetches the next case's slide list, thumbnails, first descriptor and first
view's tiles with ``Coupe-Purpose: prefetch`` while the pathologist reads the case before. The
log must not say they looked at a case they never opened; it must say so once they do, even
though the tiles then come from the browser's cache.
"""

from __future__ import annotations

from pathlib import Path

from services.deps import PURPOSE_HEADER
from tests.services.audit_support import audit_records as records
from tests.services.conftest import ServiceHarness
from tests.services.test_slides import add_slide, cmu, copy_sample, people
from worklist.db import read_session
from worklist.enums import AuditOutcome
from worklist.models import Slide

__all__ = ["cmu", "people"]  # fixtures used by name

PREFETCH = {PURPOSE_HEADER: "prefetch"}


def case_of(service: ServiceHarness, slide_id: int) -> int:
    with read_session(service.engine) as session:
        return session.get_one(Slide, slide_id).block.specimen.case_id


def prefetch(service: ServiceHarness, headers: dict[str, str], slide_id: int) -> list[int]:
    """What the web app's prefetch asks for; the status of each answer."""
    case_id = case_of(service, slide_id)
    urls = [
        f"/cases/{case_id}/slides",
        f"/slides/{slide_id}/thumbnail?max_px=160",
        f"/slides/{slide_id}.dzi",
        f"/slides/{slide_id}_files/0/0_0.jpeg",
        f"/slides/{slide_id}_files/8/0_0.jpeg",
    ]
    return [service.client.get(url, headers=headers | PREFETCH).status_code for url in urls]


def test_the_descriptor_alone_opens_the_slide(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    # A viewer whose tiles all come from the cache asks the server for the descriptor only.
    slide_id, _ = cmu
    assert service.client.get(f"/slides/{slide_id}.dzi", headers=people["hmc_path"]).is_success
    assert records(service, "slide.open") == 1


def test_a_prefetch_is_recorded_as_fetched_ahead_and_the_opening_after_it_as_opening(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    headers = people["hmc_path"]
    assert prefetch(service, headers, slide_id) == [200] * 5
    assert (records(service, "case.prefetch"), records(service, "slide.prefetch")) == (1, 1)
    assert (records(service, "case.open"), records(service, "slide.open")) == (0, 0)
    assert prefetch(service, headers, slide_id) == [200] * 5  # once per sign-in session
    assert (records(service, "case.prefetch"), records(service, "slide.prefetch")) == (1, 1)

    # "Next case": the page asks for the case and the descriptor (never cached) again.
    case_id = case_of(service, slide_id)
    assert service.client.get(f"/cases/{case_id}", headers=headers).is_success
    assert service.client.get(f"/slides/{slide_id}.dzi", headers=headers).is_success
    assert (records(service, "case.open"), records(service, "slide.open")) == (1, 1)

    # Fetched ahead again after it was opened: nothing new was shown, nothing new recorded.
    assert prefetch(service, headers, slide_id) == [200] * 5
    assert (records(service, "case.prefetch"), records(service, "slide.prefetch")) == (1, 1)
    assert (records(service, "case.open"), records(service, "slide.open")) == (1, 1)


def test_a_refused_prefetch_is_recorded_as_a_refusal(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    assert prefetch(service, people["lumc_path"], slide_id) == [403] * 5
    refused = AuditOutcome.SERIOUS_FAILURE
    tried = [records(service, event, outcome=refused) for event in ("case.open", "slide.open")]
    assert sum(tried) >= 1
    assert records(service, "case.prefetch") + records(service, "slide.prefetch") == 0


def test_a_prefetch_of_another_slide_of_an_opened_case_is_still_fetched_ahead(
    service: ServiceHarness, people: dict[str, dict[str, str]]
) -> None:
    # Slides are recorded on their own: opening one slide of a case does not open the others.
    first = add_slide(service, "HMC", copy_sample(service, "CMU-1-Small-Region.svs"))
    second = add_slide(service, "HMC", copy_sample(service, "CMU-1-Small-Region.svs"))
    headers = people["hmc_path"]
    assert service.client.get(f"/slides/{first}.dzi", headers=headers).is_success
    assert service.client.get(f"/slides/{second}.dzi", headers=headers | PREFETCH).is_success
    assert (records(service, "slide.open"), records(service, "slide.prefetch")) == (1, 1)
