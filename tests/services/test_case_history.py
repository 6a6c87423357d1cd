"""GET /cases/{id}/history: the timeline of a case (assignments, moves with their reasons,
a release, a consult asked and answered, report versions, sign-out, addendum), for whoever
may see the case, audited as an access to it."""

from __future__ import annotations

from typing import Any

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    audit_events,
    make_case,
    manager,
    pathologist,
    post,
)


def history(service: ServiceHarness, case_id: int, headers: dict[str, str]) -> Any:
    return service.client.get(f"/cases/{case_id}/history", headers=headers)


def test_the_whole_life_of_a_case(service: ServiceHarness) -> None:
    boss = manager(service)
    mulder = pathologist(service, "HMC-01")
    bruijn = pathologist(service, "HMC-03")
    bouali = pathologist(service, "LUMC-01")
    case_id = make_case(service, "HMC")
    assert post(service, f"/cases/{case_id}/claim", mulder).status_code == 200
    released = post(service, f"/cases/{case_id}/release", mulder, {"reason": "not my week"})
    assert released.status_code == 200, released.text
    assign = {"pathologist_code": "HMC-01", "reason": "back after all"}
    assert post(service, f"/cases/{case_id}/assign", boss, assign).status_code == 200
    move = {"pathologist_code": "HMC-03", "reason": "HMC-01 <b>ill</b> today"}
    assert post(service, f"/cases/{case_id}/reassign", boss, move).status_code == 200
    ask = {"pathologist_code": "LUMC-01", "question": "Dysplasia?", "access_days": 7}
    assert post(service, f"/cases/{case_id}/consults", bruijn, ask).status_code == 201
    answer = {"answer": "Low grade."}
    assert post(service, f"/cases/{case_id}/consults/answer", bouali, answer).status_code == 200
    report = {"macroscopy": "m", "microscopy": "mi", "conclusion": "c", "diagnosis_codes": []}
    saved = service.client.put(f"/cases/{case_id}/report", json=report, headers=bruijn.headers)
    assert saved.status_code == 200, saved.text
    signed = post(service, f"/cases/{case_id}/sign-out", bruijn)
    assert signed.status_code == 200, signed.text

    answered = history(service, case_id, bruijn.headers)
    assert answered.status_code == 200, answered.text
    events = answered.json()["events"]
    kinds = [event["kind"] for event in events]
    assert kinds == [
        "received",
        "assigned",
        "released",
        "assigned",
        "reassigned",
        "consult_requested",
        "consult_answered",
        "report_saved",
        "signed_out",
    ]
    by_kind = {event["kind"]: event for event in events}
    claim = events[1]
    assert (claim["pathologist_code"], claim["rule"], claim["by"]) == ("HMC-01", "claim", "hmc-01")
    assert by_kind["released"]["reason"] == "not my week"
    assert events[3]["reason"] == "back after all" and events[3]["by"] == "manager"
    moved = by_kind["reassigned"]
    assert moved["from_pathologist_code"] == "HMC-01"
    assert moved["pathologist_code"] == "HMC-03"
    assert moved["reason"] == "HMC-01 <b>ill</b> today"  # as given: the page shows it as text
    assert moved["outside_subspecialty"] is False
    assert by_kind["consult_requested"]["text"] == "Dysplasia?"
    assert by_kind["consult_answered"]["pathologist_code"] == "LUMC-01"
    assert by_kind["report_saved"]["report_version"] == 1
    assert by_kind["signed_out"]["by"] == "HMC-03"

    # Whoever may see the case reads it: a colleague of HMC and the manager, not LUMC's
    # consultant once their consult is answered, and not another department's pathologist.
    assert history(service, case_id, mulder.headers).status_code == 200
    assert history(service, case_id, boss.headers).status_code == 200
    outsider = pathologist(service, "LUMC-02")
    refused = history(service, case_id, outsider.headers)
    assert refused.status_code == 403
    assert history(service, 999_999, boss.headers).status_code == 404


def test_reading_the_history_is_an_audited_access(service: ServiceHarness) -> None:
    mulder = pathologist(service, "HMC-01")
    case_id = make_case(service, "HMC")
    before = len([e for e in audit_events(service, "case.open") if e.case_id == case_id])
    assert history(service, case_id, mulder.headers).status_code == 200
    after = [e for e in audit_events(service, "case.open") if e.case_id == case_id]
    assert len(after) == before + 1 and after[-1].user_id == "hmc-01"
    outsider = pathologist(service, "LUMC-02")
    assert history(service, case_id, outsider.headers).status_code == 403
    refused = [e for e in audit_events(service, "case.open") if e.case_id == case_id]
    assert len(refused) == before + 2 and refused[-1].outcome.value != "success"
