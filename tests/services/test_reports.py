"""The report over HTTP: drafts and versions, sign-out, addenda, who may do what, the audit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    Person,
    audit_events,
    make_case,
    manager,
    pathologist,
    post,
)
from worklist.enums import AuditOutcome, Role

XSS = "<img src=x onerror=alert(1)>"
REPORT = {
    "macroscopy": f"Biopt van 3 mm.\n{XSS}",
    "microscopy": f"Tubulaire architectuur. {XSS}",
    "conclusion": f"Colon, biopt: tubulair adenoom met laaggradige dysplasie. {XSS}",
    "diagnosis_codes": [
        {"system": "PALGA", "code": "T67000", "display": "colon"},
        {"code": "M81400", "display": f"adenoom {XSS}"},
    ],
}


@pytest.fixture
def mulder(service: ServiceHarness) -> Person:
    """HMC-01, at HMC."""
    return pathologist(service, "HMC-01")


@pytest.fixture
def bruijn(service: ServiceHarness) -> Person:
    """HMC-03, a colleague at HMC."""
    return pathologist(service, "HMC-03")


@pytest.fixture
def bouali(service: ServiceHarness) -> Person:
    """LUMC-01, at another site."""
    return pathologist(service, "LUMC-01")


def claimed(service: ServiceHarness, holder: Person) -> int:
    """A case of HMC that ``holder`` claimed ("assigned", no review started)."""
    case_id = make_case(service, "HMC")
    assert post(service, f"/cases/{case_id}/claim", holder).status_code == 200
    return case_id


def get(service: ServiceHarness, path: str, who: Person) -> Any:
    return service.client.get(path, headers=who.headers)


def put(service: ServiceHarness, case_id: int, who: Person, body: dict[str, Any]) -> Any:
    return service.client.put(f"/cases/{case_id}/report", json=body, headers=who.headers)


def test_before_anything_is_saved(service: ServiceHarness, mulder: Person) -> None:
    case_id = claimed(service, mulder)
    answer = get(service, f"/cases/{case_id}/report", mulder)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report == {
        "case_id": case_id,
        "status": "none",
        "version": 0,
        "macroscopy": "",
        "microscopy": "",
        "conclusion": "",
        "diagnosis_codes": [],
        "updated_at": None,
        "updated_by": None,
        "signed_at": None,
        "signed_by": None,
        "addenda": [],
        "case": report["case"],
    }
    assert report["case"]["status"] == "assigned"
    assert get(service, f"/cases/{case_id}", mulder).json()["report_status"] == "none"
    versions = get(service, f"/cases/{case_id}/report/versions", mulder).json()
    assert (versions["items"], versions["total"]) == ([], 0)


def test_drafts_are_versioned_and_stored_as_given(service: ServiceHarness, mulder: Person) -> None:
    case_id = claimed(service, mulder)
    saved = put(service, case_id, mulder, {**REPORT, "expected_version": 0})
    assert saved.status_code == 200, saved.text
    report = saved.json()
    assert (report["status"], report["version"], report["case"]["status"]) == (
        "draft",
        1,
        "in_review",  # the first save started the review
    )
    for field in ("macroscopy", "microscopy", "conclusion"):
        assert report[field] == REPORT[field]
    assert report["diagnosis_codes"] == [
        {"system": "PALGA", "code": "T67000", "display": "colon"},
        {"system": "", "code": "M81400", "display": f"adenoom {XSS}"},
    ]
    assert report["updated_by"] == {
        "user_id": mulder.user_id,
        "display_name": "Hmc-01",
        "pathologist_code": "HMC-01",
    }
    assert report["updated_at"] is not None and report["signed_at"] is None
    second = put(
        service, case_id, mulder, {"conclusion": "Tubulair adenoom.", "expected_version": 1}
    )
    assert second.status_code == 200, second.text
    assert (second.json()["version"], second.json()["macroscopy"]) == (2, "")
    assert get(service, f"/cases/{case_id}/report", mulder).json() == second.json()
    assert get(service, f"/cases/{case_id}", mulder).json()["report_status"] == "draft"

    first_page = get(service, f"/cases/{case_id}/report/versions?limit=1", mulder).json()
    assert [v["version"] for v in first_page["items"]] == [2]  # newest first
    assert first_page["total"] == 2
    rest = service.client.get(
        f"/cases/{case_id}/report/versions",
        params={"limit": 1, "cursor": first_page["next"]},
        headers=mulder.headers,
    ).json()
    [oldest] = rest["items"]
    assert (oldest["version"], oldest["conclusion"], rest["next"]) == (
        1,
        REPORT["conclusion"],
        None,
    )
    assert oldest["saved_by"]["pathologist_code"] == "HMC-01"
    saves = audit_events(service, "case.report.save")
    assert [(e.outcome, e.user_id) for e in saves] == [(AuditOutcome.SUCCESS, "hmc-01")] * 2


def test_a_stale_save_is_refused_and_changes_nothing(
    service: ServiceHarness, mulder: Person
) -> None:
    case_id = claimed(service, mulder)
    put(service, case_id, mulder, {**REPORT, "expected_version": 0})
    before = get(service, f"/cases/{case_id}/report", mulder).json()
    stale = put(service, case_id, mulder, {"conclusion": "other tab", "expected_version": 0})
    assert stale.status_code == 409
    assert stale.json()["error"] == "concurrent_update"
    assert "someone else saved in between" in stale.json()["detail"]
    assert get(service, f"/cases/{case_id}/report", mulder).json() == before
    refused = audit_events(service, "case.report.save")[-1]
    assert refused.outcome is AuditOutcome.MINOR_FAILURE


def test_bad_drafts_are_refused(service: ServiceHarness, mulder: Person) -> None:
    case_id = claimed(service, mulder)
    for bad in (
        {"conclusion": "x" * 50_001},
        {"diagnosis_codes": [{"code": f"C{i}", "display": "d"} for i in range(51)]},
        {"diagnosis_codes": [{"code": "", "display": "colon"}]},
        {"diagnosis_codes": [{"display": "colon"}]},
        {"conclusion": "bad \x00 byte"},
        {"expected_version": -1},
        {"conclusion": "x", "signed": True},
    ):
        assert put(service, case_id, mulder, bad).status_code == 422, bad
    assert put(service, case_id, mulder, {"microscopy": "x" * 50_000}).status_code == 200
    assert audit_events(service, "case.report.save")[0].outcome is AuditOutcome.SUCCESS


def test_only_the_primary_pathologist_writes_drafts(
    service: ServiceHarness, mulder: Person, bruijn: Person
) -> None:
    case_id = claimed(service, mulder)
    boss = manager(service)
    not_primary = put(service, case_id, bruijn, REPORT)
    assert not_primary.status_code == 409
    assert "(HMC-03) is not the primary pathologist" in not_primary.json()["detail"]
    assert "held by dr. F. Mulder (HMC-01)" in not_primary.json()["detail"]
    assert put(service, case_id, boss, REPORT).status_code == 403  # no pathologist record
    assert get(service, f"/cases/{case_id}/report", boss).status_code == 200  # may read
    assert get(service, f"/cases/{case_id}/report", bruijn).json()["status"] == "none"
    assert service.client.put(f"/cases/{case_id}/report", json=REPORT).status_code == 401
    assert put(service, 9999, mulder, REPORT).status_code == 404


def test_sign_out_needs_a_conclusion_then_freezes_the_report(
    service: ServiceHarness, mulder: Person, bruijn: Person
) -> None:
    case_id = claimed(service, mulder)
    case_before = get(service, f"/cases/{case_id}", mulder).json()
    refused = post(service, f"/cases/{case_id}/sign-out", mulder)
    assert refused.status_code == 409
    assert "the report needs a conclusion before sign-out" in refused.json()["detail"]
    blank = put(service, case_id, mulder, {"macroscopy": "Biopt.", "conclusion": "  "})
    assert blank.status_code == 200
    assert post(service, f"/cases/{case_id}/sign-out", mulder).status_code == 409
    case_now = get(service, f"/cases/{case_id}", mulder).json()
    assert case_now["status"] == "in_review"  # the save started the review; nothing else moved
    assert case_now["assignments"] == case_before["assignments"]

    put(service, case_id, mulder, REPORT)
    stale = post(service, f"/cases/{case_id}/sign-out", mulder, {"expected_report_version": 1})
    assert stale.status_code == 409
    assert "someone else saved in between" in stale.json()["detail"]
    signed = post(
        service,
        f"/cases/{case_id}/sign-out",
        mulder,
        {"expected_version": case_now["version"], "expected_report_version": 2},
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed_out"
    report = get(service, f"/cases/{case_id}/report", mulder).json()
    assert (report["status"], report["version"], report["conclusion"]) == (
        "signed",
        2,
        REPORT["conclusion"],
    )
    assert report["signed_by"] == report["updated_by"]
    assert report["signed_by"]["pathologist_code"] == "HMC-01"
    assert report["signed_at"] is not None
    assert get(service, f"/cases/{case_id}", mulder).json()["report_status"] == "signed"
    # The case has left the pathologist's worklist.
    mine = get(service, "/worklist/mine?kind=primary", mulder).json()
    assert case_id not in [item["case"]["id"] for item in mine["items"]]

    again = put(service, case_id, mulder, {**REPORT, "expected_version": 2})
    assert again.status_code == 409
    assert again.json()["detail"].endswith("is signed out; add an addendum")
    review = post(service, f"/cases/{case_id}/start-review", mulder)
    assert review.status_code == 409
    assert review.json()["detail"] == (
        f"case {report['case']['accession_number']!r} is signed out; add an addendum instead"
    )
    assert get(service, f"/cases/{case_id}/report", mulder).json() == report
    events = audit_events(service, "case.sign_out")
    assert [e.outcome for e in events] == [AuditOutcome.MINOR_FAILURE] * 3 + [AuditOutcome.SUCCESS]


def test_sign_out_straight_from_assigned(
    service: ServiceHarness, mulder: Person, bruijn: Person
) -> None:
    case_id = claimed(service, mulder)
    put(service, case_id, mulder, REPORT)
    boss = manager(service)
    moved = post(
        service,
        f"/cases/{case_id}/reassign",
        boss,
        {"pathologist_code": "HMC-03", "reason": "on leave"},
    )
    assert moved.json()["case"]["status"] == "assigned"
    signed = post(service, f"/cases/{case_id}/sign-out", bruijn)  # no start-review first
    assert signed.status_code == 200, signed.text
    report = get(service, f"/cases/{case_id}/report", bruijn).json()
    assert (report["updated_by"]["pathologist_code"], report["signed_by"]["pathologist_code"]) == (
        "HMC-01",
        "HMC-03",
    )
    [event] = audit_events(service, "case.sign_out")
    assert '"review_started":true' in event.detail


def test_addenda_after_sign_out_by_pathologists_who_may_see_the_case(
    service: ServiceHarness, mulder: Person, bruijn: Person, bouali: Person
) -> None:
    case_id = claimed(service, mulder)
    put(service, case_id, mulder, REPORT)
    early = post(service, f"/cases/{case_id}/report/addenda", mulder, {"body": "Aanvulling."})
    assert early.status_code == 409
    assert "the case is not signed out yet: edit the report" in early.json()["detail"]
    assert post(service, f"/cases/{case_id}/sign-out", mulder).status_code == 200

    own = post(service, f"/cases/{case_id}/report/addenda", mulder, {"body": f"MMR intact. {XSS}"})
    assert own.status_code == 201, own.text
    assert own.json()["body"] == f"MMR intact. {XSS}"
    assert own.json()["signed_by"]["pathologist_code"] == "HMC-01"
    colleague = post(service, f"/cases/{case_id}/report/addenda", bruijn, {"body": "Revisie."})
    assert colleague.status_code == 201, colleague.text
    foreign = post(service, f"/cases/{case_id}/report/addenda", bouali, {"body": "Hm."})
    assert foreign.status_code == 403
    boss = manager(service)
    assert post(service, f"/cases/{case_id}/report/addenda", boss, {"body": "x"}).status_code == 403
    for bad in ({"body": ""}, {}, {"body": "x" * 50_001}, {"body": "x", "signed_by": 1}):
        answer = post(service, f"/cases/{case_id}/report/addenda", mulder, bad)
        assert answer.status_code == 422, bad
    report = get(service, f"/cases/{case_id}/report", bruijn).json()
    assert [
        (a["id"], a["body"], a["signed_by"]["pathologist_code"]) for a in report["addenda"]
    ] == [
        (own.json()["id"], f"MMR intact. {XSS}", "HMC-01"),
        (colleague.json()["id"], "Revisie.", "HMC-03"),
    ]
    assert all(a["signed_at"] for a in report["addenda"])
    added = audit_events(service, "case.report.addendum")
    assert [(e.outcome, e.user_id) for e in added] == [
        (AuditOutcome.MINOR_FAILURE, "hmc-01"),
        (AuditOutcome.SUCCESS, "hmc-01"),
        (AuditOutcome.SUCCESS, "hmc-03"),
    ]


def test_another_department_and_a_privacy_officer_are_refused_and_audited(
    service: ServiceHarness, mulder: Person, bouali: Person
) -> None:
    case_id = claimed(service, mulder)
    put(service, case_id, mulder, REPORT)
    user_id = service.add_user("privacy", Role.PRIVACY_OFFICER, department_code="HMC")
    officer = Person("privacy", user_id, None, service.headers("privacy"))
    for who in (bouali, officer):
        assert get(service, f"/cases/{case_id}/report", who).status_code == 403
        assert get(service, f"/cases/{case_id}/report/versions", who).status_code == 403
        assert put(service, case_id, who, REPORT).status_code == 403
        added = post(service, f"/cases/{case_id}/report/addenda", who, {"body": "x"})
        assert added.status_code == 403
    answer = get(service, f"/cases/{case_id}/report", officer)
    assert "audit log" in answer.json()["detail"]
    refusals = [
        (e.user_id, e.outcome)
        for e in audit_events(service, "case.open")
        if e.outcome is not AuditOutcome.SUCCESS
    ]
    assert ("lumc-01", AuditOutcome.SERIOUS_FAILURE) in refusals
    assert ("privacy", AuditOutcome.SERIOUS_FAILURE) in refusals
    saves = audit_events(service, "case.report.save")
    assert [e.user_id for e in saves] == ["hmc-01"]  # the refused writes never reached it
    assert get(service, f"/cases/{case_id}/report", mulder).json()["version"] == 1


def test_reading_the_report_is_audited_as_opening_the_case(
    service: ServiceHarness, mulder: Person, bruijn: Person
) -> None:
    case_id = claimed(service, mulder)
    for _ in range(3):
        assert get(service, f"/cases/{case_id}/report", bruijn).status_code == 200
    opened = [e for e in audit_events(service, "case.open") if e.user_id == "hmc-03"]
    assert [(e.outcome, e.case_id) for e in opened] == [(AuditOutcome.SUCCESS, case_id)]


def test_the_signer_from_another_site_keeps_the_signed_case(
    service: ServiceHarness, mulder: Person, bouali: Person
) -> None:
    """A case read regionally: after sign-out its author (LUMC) still opens it and adds an
    addendum, though it is HMC's case and off their worklist; another LUMC pathologist does
    not."""
    case_id = make_case(service, "HMC")
    boss = manager(service)
    given = post(service, f"/cases/{case_id}/assign", boss, {"pathologist_code": "LUMC-01"})
    assert given.status_code == 200, given.text
    assert put(service, case_id, bouali, REPORT).status_code == 200
    assert post(service, f"/cases/{case_id}/sign-out", bouali).status_code == 200

    assert get(service, f"/cases/{case_id}", bouali).status_code == 200
    assert get(service, f"/cases/{case_id}/report", bouali).json()["status"] == "signed"
    added = post(service, f"/cases/{case_id}/report/addenda", bouali, {"body": "Aanvulling."})
    assert added.status_code == 201, added.text
    listed = get(service, "/cases", bouali).json()["items"]
    assert case_id in [case["id"] for case in listed]
    mine = get(service, "/worklist/mine", bouali).json()["items"]
    assert case_id not in [item["case"]["id"] for item in mine]
    colleague = pathologist(service, "LUMC-02")
    assert get(service, f"/cases/{case_id}", colleague).status_code == 403
