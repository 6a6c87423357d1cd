"""Account management over HTTP: the password policy, names whatever their case, the role and
department rules, and PATCH /users/{id} (update, disable, re-enable, reset)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from services.commands.demo_backoffice import DEMO_PASSWORD
from services.settings import Settings
from tests.services.conftest import PASSWORD, ServiceHarness
from worklist.db import read_session
from worklist.enums import Role
from worklist.models import AuditEvent, Department

STRONG = "lantaarnpaal-gieter-97"


def new_user(**fields: Any) -> dict[str, Any]:
    return {
        "username": "pjansen",
        "display_name": "P. Jansen",
        "password": STRONG,
        "role": "lab_manager",
        "department_code": "GHZ",
        **fields,
    }


@pytest.fixture
def admin(service: ServiceHarness) -> dict[str, str]:
    service.add_user("admin", Role.ADMIN)
    return service.headers("admin")


def login(service: ServiceHarness, username: str, password: str) -> int:
    answer = service.client.post("/auth/login", json={"username": username, "password": password})
    return answer.status_code


def usernames(service: ServiceHarness, headers: dict[str, str], **query: str) -> list[str]:
    answer = service.client.get("/users", params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    return [user["username"] for user in answer.json()["items"]]


WEAK = [
    ("aaaaaaaaaaaa", "Repeats"),
    ("password1234", "very common password"),
    ("pjansen12345", "too easy to guess"),  # the account's own name
    ("short", "at least 12 characters"),
]


def test_a_weak_password_is_refused_with_the_reason(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    for password, why in WEAK:
        answer = service.client.post("/users", json=new_user(password=password), headers=admin)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid"
        assert why in answer.json()["detail"]
    assert usernames(service, admin) == ["admin"]


def test_the_minimum_length_is_a_setting() -> None:
    assert Settings().password_policy.min_length == 12
    assert Settings(password_min_length=16).password_policy.min_length == 16


def test_the_demo_password_passes_the_policy() -> None:
    # The demo creates its accounts without the API; its password is strong enough anyway.
    for names in (("admin", "Demo administrator"), ("manager", "Demo lab manager")):
        Settings().password_policy.check(DEMO_PASSWORD, user_inputs=names)


def test_user_names_are_unique_whatever_their_case(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    assert service.client.post("/users", json=new_user(), headers=admin).status_code == 201
    again = service.client.post("/users", json=new_user(username="PJansen"), headers=admin)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert "'PJansen' is taken already (as 'pjansen')" in again.json()["detail"]
    other = service.client.post(
        "/users", json=new_user(username="bakker", display_name="C. Bakker"), headers=admin
    ).json()
    renamed = service.client.patch(
        f"/users/{other['id']}", json={"username": "PJANSEN"}, headers=admin
    )
    assert renamed.status_code == 409
    assert login(service, "PJANSEN", STRONG) == 200  # sign-in matches whatever the case


def test_no_account_gets_the_system_role(service: ServiceHarness, admin: dict[str, str]) -> None:
    refused = service.client.post("/users", json=new_user(role="system"), headers=admin)
    assert refused.status_code == 422
    assert "system role" in refused.json()["detail"]
    created = service.client.post("/users", json=new_user(), headers=admin).json()
    patched = service.client.patch(
        f"/users/{created['id']}", json={"role": "system"}, headers=admin
    )
    assert patched.status_code == 422
    assert service.client.get("/users", headers=admin).json()["items"][1]["role"] == "lab_manager"


def test_a_pathologist_account_is_at_its_pathologists_department(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    body = new_user(role="pathologist", pathologist_code="ALR-01", department_code="LUMC")
    refused = service.client.post("/users", json=body, headers=admin)
    assert refused.status_code == 422
    assert "'ALR-01' works at department 'ALR'" in refused.json()["detail"]
    created = service.client.post("/users", json={**body, "department_code": None}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["department_code"] == "ALR"
    assert created.json()["pathologist_code"] == "ALR-01"
    moved = service.client.patch(
        f"/users/{created.json()['id']}", json={"department_code": "LUMC"}, headers=admin
    )
    assert moved.status_code == 422


def test_an_admin_updates_an_account(service: ServiceHarness, admin: dict[str, str]) -> None:
    created = service.client.post("/users", json=new_user(), headers=admin).json()
    answer = service.client.patch(
        f"/users/{created['id']}",
        json={"display_name": "Petra Jansen", "department_code": "HMC", "role": "admin"},
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["display_name"], body["department_code"], body["role"]) == (
        "Petra Jansen",
        "HMC",
        "admin",
    )
    with read_session(service.engine) as session:
        [record] = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "user.update")
        ).all()
        hmc_id = session.scalar(select(Department.id).where(Department.code == "HMC"))
    assert record.user_id == "admin"
    assert json.loads(record.detail)["changes"] == {
        "display_name": "Petra Jansen",
        "role": "admin",
        "department_id": hmc_id,
        "pathologist_id": None,
    }


def test_a_malformed_update_is_refused(service: ServiceHarness, admin: dict[str, str]) -> None:
    created = service.client.post("/users", json=new_user(), headers=admin).json()
    for body in ({"conclusion": "x"}, {"username": None}, {"active": None}, {"password": None}):
        answer = service.client.patch(f"/users/{created['id']}", json=body, headers=admin)
        assert answer.status_code == 422, (body, answer.text)
    assert service.client.get("/users", headers=admin).json()["items"][1] == created


def test_only_admins_update_accounts(service: ServiceHarness, admin: dict[str, str]) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    manager = service.headers("manager")
    created = service.client.post("/users", json=new_user(), headers=admin).json()
    refused = service.client.patch(
        f"/users/{created['id']}", json={"active": False}, headers=manager
    )
    assert refused.status_code == 403
    missing = service.client.patch("/users/999", json={"active": False}, headers=admin)
    assert missing.status_code == 404


def test_disabling_ends_the_sessions_at_once_and_re_enabling_restores_sign_in(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    user_id = service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    manager = service.headers("manager")
    assert service.client.get("/auth/me", headers=manager).status_code == 200
    disabled = service.client.patch(f"/users/{user_id}", json={"active": False}, headers=admin)
    assert disabled.status_code == 200
    assert disabled.json()["active"] is False
    assert service.client.get("/auth/me", headers=manager).status_code == 401
    assert login(service, "manager", PASSWORD) == 401
    assert usernames(service, admin) == ["admin"]
    assert usernames(service, admin, include_disabled="true") == ["admin", "manager"]
    enabled = service.client.patch(f"/users/{user_id}", json={"active": True}, headers=admin)
    assert enabled.json()["active"] is True
    assert login(service, "manager", PASSWORD) == 200
    assert service.client.get("/auth/me", headers=manager).status_code == 401  # ended for good


def test_a_password_reset_ends_the_sessions(service: ServiceHarness, admin: dict[str, str]) -> None:
    user_id = service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    manager = service.headers("manager")
    weak = service.client.patch(
        f"/users/{user_id}", json={"password": "manager12345"}, headers=admin
    )
    assert weak.status_code == 422
    assert service.client.get("/auth/me", headers=manager).status_code == 200  # nothing changed
    reset = service.client.patch(f"/users/{user_id}", json={"password": STRONG}, headers=admin)
    assert reset.status_code == 200
    assert service.client.get("/auth/me", headers=manager).status_code == 401
    assert login(service, "manager", PASSWORD) == 401
    assert login(service, "manager", STRONG) == 200


def test_the_last_administrator_cannot_be_disabled(
    service: ServiceHarness, admin: dict[str, str]
) -> None:
    me = service.client.get("/auth/me", headers=admin).json()
    answer = service.client.patch(f"/users/{me['id']}", json={"active": False}, headers=admin)
    assert answer.status_code == 409
    assert "no active administrator" in answer.json()["detail"]
