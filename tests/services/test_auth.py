"""Signing in and out, tokens and cookies, roles."""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.services.conftest import PASSWORD, ServiceHarness
from worklist.db import read_session
from worklist.enums import Role
from worklist.models import AuditEvent

NEW_PASSWORD = "lantaarnpaal-gieter-97"


def test_sign_in_gives_a_token_and_a_cookie(service: ServiceHarness) -> None:
    service.add_user("jdevries", Role.PATHOLOGIST, pathologist_code="ALR-01")
    answer = service.client.post("/auth/login", json={"username": "jdevries", "password": PASSWORD})
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["role"] == "pathologist"
    assert body["user"]["department_code"] == "ALR"
    assert "password_hash" not in body["user"]
    assert "coupe_session" in answer.cookies
    me = service.client.get("/auth/me")  # the cookie alone signs the viewer in
    assert me.status_code == 200
    assert me.json()["username"] == "jdevries"


def test_wrong_password_and_unknown_user_get_the_same_401(service: ServiceHarness) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    wrong = service.client.post("/auth/login", json={"username": "manager", "password": "x"})
    unknown = service.client.post("/auth/login", json={"username": "nobody", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "not_authenticated"


def test_requests_without_or_with_a_forged_token_are_refused(service: ServiceHarness) -> None:
    assert service.client.get("/auth/me").status_code == 401
    forged = service.client.get("/auth/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    assert forged.json()["detail"] == "invalid session token"


def test_passwords_are_stored_as_argon2id(service: ServiceHarness) -> None:
    from sqlalchemy import select

    from worklist.db import read_session
    from worklist.models import UserAccount

    service.add_user("admin", Role.ADMIN)
    with read_session(service.engine) as session:
        stored = session.scalar(select(UserAccount.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_only_admins_manage_users(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    service.add_user("manager", Role.LAB_MANAGER, department_code="LUMC")
    new_user = {
        "username": "pjansen",
        "display_name": "P. Jansen",
        "password": "a long enough password",
        "role": "lab_manager",
        "department_code": "GHZ",
    }
    refused = service.client.post("/users", json=new_user, headers=service.headers("manager"))
    assert refused.status_code == 403
    created = service.client.post("/users", json=new_user, headers=service.headers("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["department_code"] == "GHZ"
    again = service.client.post("/users", json=new_user, headers=service.headers("admin"))
    assert again.status_code == 409  # a conflict with the account there, not bad input
    listed = service.client.get("/users", headers=service.headers("admin")).json()
    assert [u["username"] for u in listed["items"]] == ["admin", "manager", "pjansen"]


def test_logout_drops_the_cookie(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    service.token("admin")
    assert service.client.get("/auth/me").status_code == 200
    csrf = {"X-CSRF-Token": service.client.cookies["coupe_csrf"]}
    assert service.client.post("/auth/logout", headers=csrf).status_code == 204
    assert service.client.get("/auth/me").status_code == 401


def test_openapi_documents_the_routes(service: ServiceHarness) -> None:
    schema = service.client.get("/openapi.json").json()
    assert {"/auth/login", "/auth/me", "/users", "/health"} <= set(schema["paths"])


def test_malformed_requests_get_the_common_error_shape(service: ServiceHarness) -> None:
    answer = service.client.post("/auth/login", json={"username": "", "password": 5})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert "username" in body["detail"] and "password" in body["detail"]


def test_sign_in_matches_the_user_name_whatever_its_case(service: ServiceHarness) -> None:
    service.add_user("JdeVries", Role.LAB_MANAGER, department_code="HMC")
    answer = service.client.post("/auth/login", json={"username": "jdevries", "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.json()["user"]["username"] == "JdeVries"


def change(service: ServiceHarness, token: str, current: str, new: str) -> tuple[int, str]:
    answer = service.client.post(
        "/auth/password",
        json={"current_password": current, "new_password": new},
        headers={"Authorization": f"Bearer {token}"},
    )
    return answer.status_code, answer.text


def test_changing_ones_password_keeps_this_session_and_ends_the_others(
    service: ServiceHarness,
) -> None:
    manager_id = service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    this, other = service.token("manager"), service.token("manager")
    assert change(service, this, PASSWORD, NEW_PASSWORD) == (204, "")
    me = {"Authorization": f"Bearer {this}"}
    assert service.client.get("/auth/me", headers=me).status_code == 200
    assert (
        service.client.get("/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code
        == 401
    )
    for password, status in ((PASSWORD, 401), (NEW_PASSWORD, 200)):
        answer = service.client.post(
            "/auth/login", json={"username": "manager", "password": password}
        )
        assert answer.status_code == status
    with read_session(service.engine) as session:
        [record] = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "user.password_change")
        ).all()
    assert record.user_id == "manager"
    assert PASSWORD not in record.detail and NEW_PASSWORD not in record.detail
    with read_session(service.engine) as session:
        [ended] = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "auth.sessions_end")
        ).all()
    assert json.loads(ended.detail) == {
        "user": manager_id,
        "sessions": 1,
        "reason": "password_changed",
    }


def test_a_wrong_current_password_is_403_and_counts_as_a_failed_sign_in(
    service: ServiceHarness,
) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    token = service.token("manager")
    status, text = change(service, token, "not my password", NEW_PASSWORD)
    assert status == 403
    assert "current password is wrong" in text
    for _ in range(service.settings.sign_in_failures_per_account - 1):
        assert change(service, token, "not my password", NEW_PASSWORD)[0] == 403
    assert change(service, token, PASSWORD, NEW_PASSWORD)[0] == 429  # the throttle holds
    answer = service.client.post("/auth/login", json={"username": "manager", "password": PASSWORD})
    assert answer.status_code == 429


def test_a_weak_or_unchanged_new_password_is_refused_and_nothing_changes(
    service: ServiceHarness,
) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    token = service.token("manager")
    status, text = change(service, token, PASSWORD, "password1234")
    assert status == 422
    assert "very common password" in text
    status, text = change(service, token, PASSWORD, PASSWORD)
    assert status == 422
    assert "must differ" in text
    assert change(service, token, PASSWORD, "x" * 1025)[0] == 422  # bounded input
    answer = service.client.post("/auth/login", json={"username": "manager", "password": PASSWORD})
    assert answer.status_code == 200
