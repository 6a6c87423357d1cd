"""A slide's withdrawal over HTTP (who may, the reason, once only, 410 on every slide route, the
case showing it, restoring it) and ``coupe slides purge-withdrawn`` (the retention kept)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services.cli import build_cli
from services.storage import pyramid_paths
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import new_case
from tests.services.worklist_api_support import first_slide
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.samples import ensure_synthetic_slide
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import AuditAction, AuditOutcome, Role
from worklist.models import AuditEvent, Slide
from worklist.operations import withdraw_slide

REASON = "scan out of focus over the whole tissue"
MANAGER = Actor(user_id="manager", role=Role.LAB_MANAGER)


class People(dict[str, dict[str, str]]):
    """Header sets by user name, each signed in when first asked for (sign-ins are slow)."""

    def __init__(self, service: ServiceHarness) -> None:
        super().__init__()
        self.service = service

    def __missing__(self, name: str) -> dict[str, str]:
        self[name] = self.service.headers(name)
        self.service.client.cookies.clear()  # each request says who it is by its header
        return self[name]


@pytest.fixture
def people(service: ServiceHarness) -> People:
    """An HMC and a LUMC pathologist, a lab manager, an admin."""
    service.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
    service.add_user("lumc_path", Role.PATHOLOGIST, pathologist_code="LUMC-01")
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    service.add_user("admin", Role.ADMIN)
    return People(service)


def add_slide(service: ServiceHarness, name: str = "scan.tiff") -> tuple[int, int, Path]:
    """A new HMC case with one slide whose file (a small tiled TIFF) lies in the slide folder;
    the case's id, the slide's id and the file."""
    target = service.settings.slide_dir / "HMC" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ensure_synthetic_slide("generic-tiff", 600, 400), target)
    case_id = new_case(service, "HMC", file_path=target).case_id
    return case_id, first_slide(service, case_id), target


def build_pyramid_of(service: ServiceHarness, slide_id: int, slide_file: Path) -> Path:
    """The slide's pyramid, built where the service keeps it; its folder."""
    paths = pyramid_paths(service.settings, slide_id)
    build_pyramid(slide_file, paths.directory, PyramidOptions(), name=paths.name)
    return paths.directory


def slide_routes(slide_id: int) -> list[str]:
    return [
        f"/slides/{slide_id}.dzi",
        f"/slides/{slide_id}_files/0/0_0.jpeg",
        f"/slides/{slide_id}",
        f"/slides/{slide_id}/thumbnail",
        f"/slides/{slide_id}/annotations",
    ]


def records(service: ServiceHarness, event_type: str) -> list[AuditEvent]:
    with read_session(service.engine) as session:
        query = select(AuditEvent).where(AuditEvent.event_type == event_type)
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def withdraw(service: ServiceHarness, headers: dict[str, str], slide_id: int, body: object):  # type: ignore[no-untyped-def]
    return service.client.post(f"/slides/{slide_id}/withdrawal", json=body, headers=headers)


# --- Withdrawing --------------------------------------------------------------------------------


def test_a_withdrawn_slide_answers_410_on_every_route_and_its_files_stay(
    service: ServiceHarness, people: People
) -> None:
    _case_id, slide_id, slide_file = add_slide(service)
    pyramid = build_pyramid_of(service, slide_id, slide_file)
    for route in slide_routes(slide_id):
        assert service.client.get(route, headers=people["hmc_path"]).status_code == 200, route

    answer = withdraw(service, people["manager"], slide_id, {"reason": REASON})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["slide_id"], body["withdrawn_by"], body["reason"]) == (slide_id, "manager", REASON)
    day = datetime.fromisoformat(body["withdrawn_at"]).date().isoformat()

    expected = f"slide {slide_id} was withdrawn on {day}: {REASON}"
    for who in ("hmc_path", "manager", "admin"):
        for route in slide_routes(slide_id):
            gone = service.client.get(route, headers=people[who])
            assert gone.status_code == 410, (who, route, gone.text)
            assert gone.json() == {"error": "slide_withdrawn", "detail": expected}
    # Someone who may not see the case learns nothing of the withdrawal: 403, as before.
    refused = service.client.get(f"/slides/{slide_id}.dzi", headers=people["lumc_path"])
    assert refused.status_code == 403
    assert REASON not in refused.text
    # A new annotation on it is refused as well.
    point = {"geojson": {"type": "Point", "coordinates": [1, 1]}}
    posted = service.client.post(
        f"/slides/{slide_id}/annotations", json=point, headers=people["hmc_path"]
    )
    assert posted.status_code == 410
    assert slide_file.exists() and (pyramid / "slide.dzi").exists()
    [record] = records(service, "slide.withdraw")
    assert (record.outcome, record.slide_id, record.user_id) == (
        AuditOutcome.SUCCESS,
        slide_id,
        "manager",
    )


def test_a_pathologist_may_not_withdraw_and_the_refusal_is_audited(
    service: ServiceHarness, people: People
) -> None:
    _case_id, slide_id, _file = add_slide(service)
    answer = withdraw(service, people["hmc_path"], slide_id, {"reason": REASON})
    assert answer.status_code == 403
    assert "lab manager" in answer.json()["detail"]
    [refusal] = records(service, "slide.withdraw")
    assert (refusal.outcome, refusal.user_id) == (AuditOutcome.SERIOUS_FAILURE, "hmc_path")
    ok = service.client.get(f"/slides/{slide_id}.dzi", headers=people["hmc_path"])
    assert ok.status_code == 200


def test_a_withdrawal_without_a_real_reason_is_refused(
    service: ServiceHarness, people: People
) -> None:
    _case_id, slide_id, _file = add_slide(service)
    for body in ({}, {"reason": "blurry"}, {"reason": " " * 20}, {"reason": REASON, "now": 1}):
        answer = withdraw(service, people["manager"], slide_id, body)
        assert answer.status_code == 422, (body, answer.text)
    with read_session(service.engine) as session:
        assert session.get_one(Slide, slide_id).withdrawn_at is None
    assert records(service, "slide.withdraw") == []


def test_a_slide_is_withdrawn_once_and_unknown_slides_are_404(
    service: ServiceHarness, people: People
) -> None:
    _case_id, slide_id, _file = add_slide(service)
    assert withdraw(service, people["manager"], slide_id, {"reason": REASON}).status_code == 201
    again = withdraw(service, people["admin"], slide_id, {"reason": "another good reason"})
    assert again.status_code == 409
    assert f"slide {slide_id} was withdrawn on" in again.json()["detail"]
    missing = withdraw(service, people["manager"], slide_id + 1000, {"reason": REASON})
    assert missing.status_code == 404


def test_the_case_shows_its_withdrawn_slide(service: ServiceHarness, people: People) -> None:
    case_id, slide_id, _file = add_slide(service)
    withdraw(service, people["manager"], slide_id, {"reason": REASON})
    detail = service.client.get(f"/cases/{case_id}", headers=people["hmc_path"]).json()
    [slide] = detail["specimens"][0]["blocks"][0]["slides"]
    listing = service.client.get(f"/cases/{case_id}/slides", headers=people["hmc_path"])
    [listed] = listing.json()["items"]
    for shown in (slide, listed):
        assert shown["withdrawal_reason"] == REASON
        assert shown["withdrawn_at"] is not None


# --- Restoring ----------------------------------------------------------------------------------


def test_restoring_a_slide_shows_it_again(service: ServiceHarness, people: People) -> None:
    _case_id, slide_id, _file = add_slide(service)
    withdraw(service, people["manager"], slide_id, {"reason": REASON})
    url = f"/slides/{slide_id}/withdrawal"
    assert service.client.delete(url, headers=people["hmc_path"]).status_code == 403
    assert service.client.delete(url, headers=people["manager"]).status_code == 204
    assert (
        service.client.get(f"/slides/{slide_id}.dzi", headers=people["hmc_path"]).status_code == 200
    )
    assert service.client.delete(url, headers=people["manager"]).status_code == 409
    outcomes = [r.outcome for r in records(service, "slide.restore")]
    assert outcomes == [AuditOutcome.SERIOUS_FAILURE, AuditOutcome.SUCCESS]


# --- coupe slides purge-withdrawn ---------------------------------------------------------------


def test_the_purge_deletes_only_slides_past_their_retention(
    service: ServiceHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUPE_DATA_DIR", str(service.settings.data_dir))
    monkeypatch.delenv("COUPE_DATABASE_URL", raising=False)
    monkeypatch.setenv("COUPE_WITHDRAWN_SLIDE_RETENTION_DAYS", "30")
    now = datetime.now(UTC)
    slides = {}
    for name, withdrawn_days_ago in (("old", 31), ("recent", 29), ("kept", None)):
        _case_id, slide_id, slide_file = add_slide(service, f"{name}.tiff")
        slides[name] = (slide_id, slide_file, build_pyramid_of(service, slide_id, slide_file))
        if withdrawn_days_ago is not None:
            withdraw_slide(
                engine=service.engine,
                actor=MANAGER,
                slide_id=slide_id,
                reason=REASON,
                now=now - timedelta(days=withdrawn_days_ago),
            )
    cli = build_cli()
    old_id = slides["old"][0]

    listed = CliRunner().invoke(cli, ["slides", "purge-withdrawn", "--dry-run"])
    assert listed.exit_code == 0, listed.output
    assert f"slide {old_id} " in listed.output and "would delete" in listed.output
    assert "would purge 1 withdrawn slides (retention 30 days)" in listed.output
    assert all(path.exists() for _id, *paths in slides.values() for path in paths)
    assert records(service, "slide.purge") == []

    purged = CliRunner().invoke(cli, ["slides", "purge-withdrawn"])
    assert purged.exit_code == 0, purged.output
    assert "purged 1 withdrawn slides" in purged.output
    assert not slides["old"][1].exists() and not slides["old"][2].exists()
    for name in ("recent", "kept"):
        assert all(path.exists() for path in slides[name][1:]), name
    [record] = records(service, "slide.purge")
    assert (record.action, record.slide_id, record.user_id) == (
        AuditAction.DELETE,
        old_id,
        "coupe-purge",
    )
    assert json.loads(record.detail)["files"] == ["slides/HMC/old.tiff", f"pyramids/{old_id}"]
    assert str(service.settings.data_dir) not in record.detail

    again = CliRunner().invoke(cli, ["slides", "purge-withdrawn"])
    assert again.exit_code == 0
    assert "purged 0 withdrawn slides" in again.output
    assert len(records(service, "slide.purge")) == 1


def test_the_purge_on_an_unmigrated_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COUPE_DATABASE_URL", raising=False)
    result = CliRunner().invoke(build_cli(), ["slides", "purge-withdrawn"])
    assert result.exit_code == 2
    assert "not migrated" in result.output
    assert "Traceback" not in result.output
