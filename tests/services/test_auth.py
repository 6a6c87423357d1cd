"""Signing in and out, tokens and cookies, roles."""

from __future__ import annotations

from tests.services.conftest import PASSWORD, ServiceHarness
from worklist.enums import Role


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
    assert again.status_code == 422
    listed = service.client.get("/users", headers=service.headers("admin")).json()
    assert [u["username"] for u in listed] == ["admin", "manager", "pjansen"]


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
