"""The worklist routes: mine, my department, the region, and the moves with their versions."""

from __future__ import annotations

import pytest

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    Person,
    admin,
    audit_events,
    make_case,
    manager,
    pathologist,
    post,
)
from worklist.enums import Priority
from worklist.workload import WorkloadModel


@pytest.fixture
def boss(service: ServiceHarness) -> Person:
    return manager(service)


@pytest.fixture
def mulder(service: ServiceHarness) -> Person:
    """HMC-01: urology and gastro-intestinal, at HMC."""
    return pathologist(service, "HMC-01")


@pytest.fixture
def bruijn(service: ServiceHarness) -> Person:
    """HMC-03: gastro-intestinal and dermatopathology, at HMC."""
    return pathologist(service, "HMC-03")


def version_of(service: ServiceHarness, case_id: int, who: Person) -> int:
    version: int = service.client.get(f"/cases/{case_id}", headers=who.headers).json()["version"]
    return version


def test_claim_review_and_sign_out(service: ServiceHarness, mulder: Person) -> None:
    case_id = make_case(service, "HMC")
    version = version_of(service, case_id, mulder)
    claimed = post(service, f"/cases/{case_id}/claim", mulder, {"expected_version": version})
    assert claimed.status_code == 200, claimed.text
    receipt = claimed.json()
    assert receipt["pathologist_code"] == mulder.pathologist_code == "HMC-01"
    assert (receipt["kind"], receipt["rule"]) == ("primary", "claim")
    assert receipt["case"]["status"] == "assigned"
    assert receipt["case"]["version"] == version + 1
    started = post(
        service,
        f"/cases/{case_id}/start-review",
        mulder,
        {"expected_version": receipt["case"]["version"]},
    )
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "in_review"
    report = {"conclusion": "Benign naevus."}
    assert service.client.put(f"/cases/{case_id}/report", json=report, headers=mulder.headers)
    signed = post(service, f"/cases/{case_id}/sign-out", mulder)  # no body: no version check
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed_out"
    assert len(audit_events(service, "case.sign_out")) == 1


def test_a_stale_version_is_refused_and_changes_nothing(
    service: ServiceHarness, mulder: Person
) -> None:
    case_id = make_case(service, "HMC")
    version = version_of(service, case_id, mulder)
    stale = post(service, f"/cases/{case_id}/claim", mulder, {"expected_version": version + 1})
    assert stale.status_code == 409
    assert stale.json()["error"] == "concurrent_update"
    assert "reload and retry" in stale.json()["detail"]
    case = service.client.get(f"/cases/{case_id}", headers=mulder.headers).json()
    assert (case["status"], case["version"]) == ("scanned", version)


def test_only_one_of_two_claimers_wins(
    service: ServiceHarness, mulder: Person, bruijn: Person
) -> None:
    case_id = make_case(service, "HMC")
    assert post(service, f"/cases/{case_id}/claim", mulder).status_code == 200
    lost = post(service, f"/cases/{case_id}/claim", bruijn)
    assert lost.status_code == 409
    assert "already assigned to HMC-01" in lost.json()["detail"]


def test_claim_refusals(service: ServiceHarness, mulder: Person, boss: Person) -> None:
    foreign = make_case(service, "LUMC")
    unscanned = make_case(service, "HMC", scanned=False)
    assert post(service, f"/cases/{foreign}/claim", mulder).status_code == 403
    assert post(service, "/cases/4242/claim", mulder).status_code == 404
    not_ready = post(service, f"/cases/{unscanned}/claim", mulder)
    assert not_ready.status_code == 409
    assert not_ready.json()["error"] == "invalid_transition"
    no_pathologist = post(service, f"/cases/{foreign}/claim", boss)
    assert no_pathologist.status_code == 403
    assert "pathologist" in no_pathologist.json()["detail"]
    bad_version = post(service, f"/cases/{foreign}/claim", mulder, {"expected_version": 0})
    assert bad_version.status_code == 422
    not_an_object = post(service, f"/cases/{foreign}/claim", mulder, [1, 2])
    assert not_an_object.status_code == 422
    assert service.client.post(f"/cases/{foreign}/claim").status_code == 401


def test_release_gives_the_case_back(
    service: ServiceHarness, mulder: Person, bruijn: Person
) -> None:
    case_id = make_case(service, "HMC")
    post(service, f"/cases/{case_id}/claim", mulder)
    not_theirs = post(service, f"/cases/{case_id}/release", bruijn, {"reason": "mine now"})
    assert not_theirs.status_code == 409
    released = post(service, f"/cases/{case_id}/release", mulder, {"reason": "on leave"})
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "scanned"
    refusal, release = audit_events(service, "case.release")
    assert (refusal.outcome.value, refusal.user_id) == ("minor_failure", "hmc-03")
    assert (release.outcome.value, release.user_id) == ("success", "hmc-01")
    assert "on leave" in release.detail
    again = post(service, f"/cases/{case_id}/release", mulder)
    assert again.status_code == 409
    too_long = post(service, f"/cases/{case_id}/release", mulder, {"reason": "x" * 501})
    assert too_long.status_code == 422


def test_review_moves_need_the_primary_and_the_right_status(
    service: ServiceHarness, mulder: Person, bruijn: Person
) -> None:
    case_id = make_case(service, "HMC")
    assert post(service, f"/cases/{case_id}/start-review", mulder).status_code == 409
    post(service, f"/cases/{case_id}/claim", mulder)
    no_report = post(service, f"/cases/{case_id}/sign-out", mulder)
    assert no_report.status_code == 409
    assert "the report needs a conclusion before sign-out" in no_report.json()["detail"]
    not_theirs = post(service, f"/cases/{case_id}/start-review", bruijn)
    assert not_theirs.status_code == 409
    detail = not_theirs.json()["detail"]
    assert "(HMC-03) is not the primary pathologist" in detail, detail
    assert detail.endswith("it is held by dr. F. Mulder (HMC-01)")
    assert "pathologist " + str(bruijn.pathologist_id) not in detail
    assert post(service, f"/cases/{case_id}/start-review", mulder).status_code == 200
    assert post(service, f"/cases/{case_id}/sign-out", bruijn).status_code == 409
    refused = audit_events(service, "case.sign_out")
    assert [e.outcome.value for e in refused] == ["minor_failure", "minor_failure"]


def test_lab_managers_assign_and_reassign(
    service: ServiceHarness, boss: Person, mulder: Person, bruijn: Person
) -> None:
    case_id = make_case(service, "HMC")
    assigned = post(
        service, f"/cases/{case_id}/assign", boss, {"pathologist_code": mulder.pathologist_code}
    )
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["rule"], assigned.json()["case"]["status"]) == ("manual", "assigned")
    post(service, f"/cases/{case_id}/start-review", mulder)
    version = version_of(service, case_id, boss)
    stale = post(
        service,
        f"/cases/{case_id}/reassign",
        boss,
        {"pathologist_code": bruijn.pathologist_code, "reason": "leave", "expected_version": 1},
    )
    assert stale.status_code == 409
    moved = post(
        service,
        f"/cases/{case_id}/reassign",
        boss,
        {
            "pathologist_code": bruijn.pathologist_code,
            "reason": "leave",
            "expected_version": version,
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["pathologist_code"] == bruijn.pathologist_code
    assert moved.json()["case"]["status"] == "assigned"  # the new pathologist starts afresh
    same = post(
        service,
        f"/cases/{case_id}/reassign",
        boss,
        {"pathologist_code": bruijn.pathologist_code, "reason": "again"},
    )
    assert same.status_code == 409
    case = service.client.get(f"/cases/{case_id}", headers=boss.headers).json()
    assert case["primary_pathologist_code"] == "HMC-03"
    assert [(a["pathologist_code"], a["active"], a["end_reason"]) for a in case["assignments"]] == [
        ("HMC-01", False, "reassigned"),
        ("HMC-03", True, None),
    ]


def test_assign_and_reassign_refusals(
    service: ServiceHarness, boss: Person, mulder: Person
) -> None:
    case_id = make_case(service, "HMC")
    to_mulder = {"pathologist_code": mulder.pathologist_code}
    assert post(service, f"/cases/{case_id}/assign", mulder, to_mulder).status_code == 403
    unknown = post(service, f"/cases/{case_id}/assign", boss, {"pathologist_code": "HMC-99"})
    assert unknown.status_code == 404
    assert "'HMC-99' does not exist" in unknown.json()["detail"]
    old_name = post(
        service, f"/cases/{case_id}/assign", boss, {"pathologist_id": mulder.pathologist_id}
    )
    assert old_name.status_code == 422  # one name for a pathologist: the code
    assert post(service, "/cases/99999/assign", boss, to_mulder).status_code == 404
    consult_first = post(
        service, f"/cases/{case_id}/assign", boss, {**to_mulder, "kind": "consult"}
    )
    assert consult_first.status_code == 409  # a consult needs a primary pathologist first
    bad_kind = post(service, f"/cases/{case_id}/assign", boss, {**to_mulder, "kind": "boss"})
    assert bad_kind.status_code == 422
    assert post(service, f"/cases/{case_id}/assign", boss).status_code == 422  # no body
    malformed = post(service, f"/cases/{case_id}/assign", boss, {"pathologist_code": "../x"})
    assert malformed.status_code == 422
    nobody = post(
        service,
        f"/cases/{case_id}/reassign",
        boss,
        {"pathologist_code": mulder.pathologist_code, "reason": "x"},
    )
    assert nobody.status_code == 409  # nobody holds it yet
    no_reason = post(
        service, f"/cases/{case_id}/reassign", boss, {"pathologist_code": mulder.pathologist_code}
    )
    assert no_reason.status_code == 422
    by_pathologist = post(
        service,
        f"/cases/{case_id}/reassign",
        mulder,
        {"pathologist_code": mulder.pathologist_code, "reason": "x"},
    )
    assert by_pathologist.status_code == 403


def test_my_worklist_is_most_urgent_first(
    service: ServiceHarness, boss: Person, mulder: Person
) -> None:
    routine = make_case(service, "HMC")
    urgent = make_case(service, "LUMC", priority=Priority.URGENT)
    make_case(service, "HMC")  # not mine
    for case_id in (routine, urgent):
        post(
            service, f"/cases/{case_id}/assign", boss, {"pathologist_code": mulder.pathologist_code}
        )
    mine = service.client.get("/worklist/mine", headers=mulder.headers)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["total"] == 2
    assert [item["case"]["id"] for item in body["items"]] == [urgent, routine]
    assert {item["kind"] for item in body["items"]} == {"primary"}
    assert body["items"][0]["case"]["primary_pathologist_code"] == "HMC-01"
    first = service.client.get("/worklist/mine?limit=1", headers=mulder.headers).json()
    page = service.client.get(
        "/worklist/mine", params={"limit": 1, "cursor": first["next"]}, headers=mulder.headers
    ).json()
    assert ([item["case"]["id"] for item in page["items"]], page["next"]) == ([routine], None)
    assert service.client.get("/worklist/mine", headers=boss.headers).status_code == 403
    assert service.client.get("/worklist/mine").status_code == 401


def test_department_worklist(service: ServiceHarness, boss: Person, mulder: Person) -> None:
    waiting = make_case(service, "HMC")
    held = make_case(service, "HMC", priority=Priority.URGENT)
    done = make_case(service, "HMC")
    make_case(service, "LUMC")
    post(service, f"/cases/{held}/claim", mulder)
    post(service, f"/cases/{done}/claim", mulder)
    service.client.put(f"/cases/{done}/report", json={"conclusion": "x"}, headers=mulder.headers)
    assert post(service, f"/cases/{done}/sign-out", mulder).status_code == 200

    def ids(who: Person, query: str = "") -> list[int]:
        answer = service.client.get(f"/worklist/department{query}", headers=who.headers)
        assert answer.status_code == 200, answer.text
        return [case["id"] for case in answer.json()["items"]]

    assert ids(mulder) == [held, waiting]  # urgent first; signed out cases are done
    assert ids(mulder, "?unassigned_only=true") == [waiting]
    assert ids(mulder, "?status=signed_out") == [done]
    assert ids(mulder, "?priority=urgent") == [held]
    assert ids(boss) == [held, waiting]  # the manager's home department
    chief = admin(service)
    assert service.client.get("/worklist/department", headers=chief.headers).status_code == 403
    bad = service.client.get("/worklist/department?status=open", headers=mulder.headers)
    assert bad.status_code == 422


def test_region_worklist_is_for_lab_managers(
    service: ServiceHarness, boss: Person, mulder: Person
) -> None:
    cases = [make_case(service, code) for code in ("HMC", "LUMC", "ALR")]
    urgent = make_case(service, "GHZ", priority=Priority.URGENT)
    region = service.client.get("/worklist/region", headers=boss.headers)
    assert region.status_code == 200, region.text
    assert [c["id"] for c in region.json()["items"]] == [urgent, *cases]
    narrowed = service.client.get(
        "/worklist/region?department_code=ALR", headers=boss.headers
    ).json()
    assert [c["id"] for c in narrowed["items"]] == [cases[2]]
    first = service.client.get("/worklist/region?limit=1", headers=boss.headers).json()
    paged = service.client.get(
        "/worklist/region", params={"limit": 2, "cursor": first["next"]}, headers=boss.headers
    ).json()
    assert (paged["total"], [c["id"] for c in paged["items"]]) == (4, cases[:2])
    other_list = service.client.get(
        "/cases", params={"cursor": first["next"]}, headers=boss.headers
    )
    assert other_list.status_code == 422  # a worklist's cursor is not a case list's
    chief = admin(service)
    assert service.client.get("/worklist/region", headers=chief.headers).status_code == 200
    assert service.client.get("/worklist/region", headers=mulder.headers).status_code == 403


def test_claim_next_takes_the_most_urgent_case_of_my_subspecialties(
    service: ServiceHarness, mulder: Person
) -> None:
    make_case(service, "HMC", tumour_group="dermatopathology", priority=Priority.URGENT)
    routine = make_case(service, "LUMC", tumour_group="urology")
    urgent = make_case(service, "ALR", tumour_group="gastro-intestinal", priority=Priority.URGENT)
    first = post(service, "/worklist/claim-next", mulder)
    assert first.status_code == 200, first.text
    assert first.json()["assignment"]["case"]["case_id"] == urgent
    second = post(service, "/worklist/claim-next", mulder, {"own_subspecialties_only": True})
    assert second.json()["assignment"]["case"]["case_id"] == routine
    assert second.json()["reason"] is None
    none_left = post(service, "/worklist/claim-next", mulder)
    assert none_left.status_code == 200
    assert none_left.json() == {
        "assignment": None,
        "reason": "nothing is waiting in the subspecialties of dr. F. Mulder (HMC-01) "
        "(gastro-intestinal, urology); 1 case(s) wait in other tumour groups: claim with "
        "own_subspecialties_only false to take one",
    }
    anything = post(service, "/worklist/claim-next", mulder, {"own_subspecialties_only": False})
    assert anything.json()["assignment"] is not None
    empty = post(service, "/worklist/claim-next", mulder, {"own_subspecialties_only": False})
    assert empty.json() == {
        "assignment": None,
        "reason": "no case is waiting to be claimed in the region",
    }
    # Claimed cases of other departments are the pathologist's to open now.
    assert service.client.get(f"/cases/{urgent}", headers=mulder.headers).status_code == 200


def test_claim_next_needs_a_pathologist(service: ServiceHarness, boss: Person) -> None:
    make_case(service, "HMC")
    unlinked = post(service, "/worklist/claim-next", boss)
    assert unlinked.status_code == 200
    assert unlinked.json() == {
        "assignment": None,
        "reason": "manager is linked to no pathologist: only a pathologist's account claims cases",
    }
    assert audit_events(service, "case.claim") == []
    bad = post(service, "/worklist/claim-next", pathologist(service, "HMC-02"), {"x": "y"})
    assert bad.status_code == 422  # unknown fields are refused, not ignored
    assert "x" in bad.json()["detail"]


def test_my_worklist_says_what_each_case_costs_in_standard_minutes(
    service: ServiceHarness, mulder: Person
) -> None:
    """The minutes the assignment engine counts: the category's for a routine primary read,
    plus the frozen section for a frozen one."""
    workload = WorkloadModel()
    routine = make_case(service, "HMC")
    frozen = make_case(service, "HMC", priority=Priority.FROZEN)
    for case_id in (routine, frozen):
        claimed = post(service, f"/cases/{case_id}/claim", mulder)
        assert claimed.status_code == 200, claimed.text
    mine = service.client.get("/worklist/mine", headers=mulder.headers).json()["items"]
    minutes = {item["case"]["id"]: item["workload_minutes"] for item in mine}
    assert minutes[routine] == workload.case_minutes(2)
    assert minutes[frozen] == workload.case_minutes(2) + workload.frozen_section_minutes
    assert minutes[frozen] > minutes[routine]
