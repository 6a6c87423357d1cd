"""Server-side sessions, the sign-in audit and throttle, the password pool, CSRF."""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.services.conftest import PASSWORD, ServiceHarness
from tests.services.tiling_jobs_support import new_case
from tests.services.worklist_api_support import first_slide
from tiling.samples import fetch_sample
from worklist.actor import Actor
from worklist.db import read_session, run_in_transaction
from worklist.enums import AuditOutcome, Role
from worklist.models import AuditEvent, Pathologist, UserSession
from worklist.operations import assign_case, reassign_case


def events(service: ServiceHarness, event_type: str) -> list[AuditEvent]:
    with read_session(service.engine) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.event_type == event_type).order_by("seq")
            )
        )


def login(service: ServiceHarness, username: str, password: str = PASSWORD) -> int:
    answer = service.client.post("/auth/login", json={"username": username, "password": password})
    return answer.status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pathologist_id(service: ServiceHarness, code: str) -> int:
    with read_session(service.engine) as session:
        found = session.scalar(select(Pathologist.id).where(Pathologist.code == code))
    assert found is not None
    return found


@pytest.fixture
def slide(service: ServiceHarness) -> tuple[int, int]:
    """(case id, slide id) of an HMC case whose slide shows CMU-1-Small-Region."""
    target = service.settings.slide_dir / "CMU-1-Small-Region.svs"
    shutil.copyfile(fetch_sample("CMU-1-Small-Region.svs"), target)
    case_id = new_case(service, "HMC", file_path=target).case_id
    return case_id, first_slide(service, case_id)


# --- Sessions on the server ------------------------------------------------------------------


def test_a_token_used_after_sign_out_gets_401(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    token = service.token("admin")
    service.client.cookies.clear()
    assert service.client.get("/auth/me", headers=bearer(token)).status_code == 200
    assert service.client.post("/auth/logout", headers=bearer(token)).status_code == 204
    after = service.client.get("/auth/me", headers=bearer(token))
    assert after.status_code == 401
    assert "signing out" in after.json()["detail"]
    assert len(events(service, "auth.sign_out")) == 1


def test_the_database_keeps_only_a_hash_of_the_token(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    token = service.token("admin")
    with read_session(service.engine) as session:
        stored = session.scalars(select(UserSession.token_hash)).all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


def test_an_idle_session_expires_with_an_audit_record(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    token = service.token("admin")
    service.client.cookies.clear()
    assert service.client.get("/auth/me", headers=bearer(token)).status_code == 200
    idle = timedelta(minutes=service.settings.session_idle_minutes + 1)

    def age(session):  # type: ignore[no-untyped-def]
        session.execute(update(UserSession).values(last_seen_at=datetime.now(UTC) - idle))

    run_in_transaction(service.engine, age)
    expired = service.client.get("/auth/me", headers=bearer(token))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert service.client.get("/auth/me", headers=bearer(token)).status_code == 401
    (record,) = events(service, "auth.session_expire")  # once, by the first request
    assert record.user_id == "admin" and '"reason":"idle"' in record.detail


def test_a_session_ends_after_its_absolute_lifetime(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    token = service.token("admin")
    service.client.cookies.clear()
    lifetime = timedelta(hours=service.settings.session_max_hours)

    def age(session):  # type: ignore[no-untyped-def]
        # Used a moment ago, but signed in longer ago than the lifetime.
        session.execute(update(UserSession).values(created_at=datetime.now(UTC) - lifetime))

    run_in_transaction(service.engine, age)
    assert service.client.get("/auth/me", headers=bearer(token)).status_code == 401
    (record,) = events(service, "auth.session_expire")
    assert '"reason":"lifetime"' in record.detail


def test_an_admin_ends_a_users_sessions(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    user_id = service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    first, second = service.token("manager"), service.token("manager")
    admin = service.headers("admin")
    service.client.cookies.clear()
    refused = service.client.delete(f"/users/{user_id}/sessions", headers=bearer(first))
    assert refused.status_code == 403
    assert service.client.delete(f"/users/{user_id}/sessions", headers=admin).status_code == 204
    for token in (first, second):
        assert service.client.get("/auth/me", headers=bearer(token)).status_code == 401
    assert service.client.get("/auth/me", headers=admin).status_code == 200
    (record,) = events(service, "auth.sessions_end")
    assert record.user_id == "admin" and '"sessions":2' in record.detail
    assert service.client.delete("/users/999/sessions", headers=admin).status_code == 404


def test_a_disabled_account_has_no_session(service: ServiceHarness) -> None:
    from worklist.models import UserAccount

    user_id = service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    token = service.token("manager")

    def disable(session):  # type: ignore[no-untyped-def]
        session.execute(update(UserAccount).where(UserAccount.id == user_id).values(active=False))

    run_in_transaction(service.engine, disable)
    assert service.client.get("/auth/me", headers=bearer(token)).status_code == 401


def test_a_reassigned_cases_tiles_answer_403_on_the_next_request(
    service: ServiceHarness, slide: tuple[int, int]
) -> None:
    case_id, slide_id = slide
    service.add_user("lumc_path", Role.PATHOLOGIST, pathologist_code="LUMC-01")
    headers = service.headers("lumc_path")
    service.client.cookies.clear()
    manager = Actor(user_id="manager", role=Role.LAB_MANAGER, site="HMC")
    assign_case(
        engine=service.engine,
        actor=manager,
        case_id=case_id,
        pathologist_id=pathologist_id(service, "LUMC-01"),
    )
    url = f"/slides/{slide_id}_files/12/0_0.jpeg"
    assert service.client.get(url, headers=headers).status_code == 200
    reassign_case(
        engine=service.engine,
        actor=manager,
        case_id=case_id,
        to_pathologist_id=pathologist_id(service, "HMC-01"),
        reason="workload",
    )
    assert service.client.get(url, headers=headers).status_code == 403


def test_a_tile_without_the_descriptor_leaves_one_audit_record_per_session(
    service: ServiceHarness, slide: tuple[int, int]
) -> None:
    _, slide_id = slide
    service.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
    headers = service.headers("hmc_path")
    service.client.cookies.clear()
    for address in ("12/0_0.jpeg", "11/0_0.jpeg", "12/0_0.jpeg"):
        answer = service.client.get(f"/slides/{slide_id}_files/{address}", headers=headers)
        assert answer.status_code == 200
    (record,) = events(service, "slide.open")
    assert record.slide_id == slide_id and record.user_id == "hmc_path"
    # The descriptor, opened afterwards in the same session, adds nothing.
    assert service.client.get(f"/slides/{slide_id}.dzi", headers=headers).status_code == 200
    assert len(events(service, "slide.open")) == 1
    # A new sign-in is a new viewing session.
    again = service.headers("hmc_path")
    assert service.client.get(f"/slides/{slide_id}_files/12/0_0.jpeg", headers=again).is_success
    assert len(events(service, "slide.open")) == 2


# --- The sign-in audit ----------------------------------------------------------------------


def test_sign_ins_and_their_failures_are_audited_without_the_password(
    service: ServiceHarness,
) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    assert login(service, "manager") == 200
    assert login(service, "manager", "wrong password 1") == 401
    assert login(service, "nobody", "wrong password 2") == 401
    success, wrong, unknown = events(service, "auth.sign_in")
    assert (success.user_id, success.outcome) == ("manager", AuditOutcome.SUCCESS)
    assert wrong.outcome == unknown.outcome == AuditOutcome.MINOR_FAILURE
    assert '"reason":"wrong_password"' in wrong.detail and '"username":"manager"' in wrong.detail
    assert '"reason":"unknown_user"' in unknown.detail and '"username":"nobody"' in unknown.detail
    assert all("wrong password" not in e.detail for e in (wrong, unknown))


# --- Throttling and the password pool --------------------------------------------------------


def test_forty_wrong_passwords_lead_to_429_with_retry_after(service: ServiceHarness) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    answers = [
        service.client.post("/auth/login", json={"username": "manager", "password": f"guess {n}"})
        for n in range(40)
    ]
    statuses = [a.status_code for a in answers]
    limit = service.settings.sign_in_failures_per_account
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    retry_after = int(answers[-1].headers["Retry-After"])
    assert 0 < retry_after <= service.settings.sign_in_failure_window_minutes * 60
    assert answers[-1].json()["error"] == "too_many_attempts"
    # Even the right password waits: the throttle is per account.
    assert login(service, "manager") == 429
    throttled = [e for e in events(service, "auth.sign_in") if '"reason":"throttled"' in e.detail]
    assert len(throttled) == 40 - limit + 1


def test_many_account_names_from_one_address_are_throttled(service: ServiceHarness) -> None:
    per_address = service.settings.sign_in_failures_per_address
    statuses = [login(service, f"user{n}", "guess") for n in range(per_address + 2)]
    assert statuses[:per_address] == [401] * per_address
    assert statuses[per_address:] == [429, 429]


def test_an_unknown_user_costs_the_time_of_a_wrong_password(service: ServiceHarness) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")

    def timed(username: str) -> float:
        start = time.perf_counter()
        assert login(service, username, "not the password") == 401
        return time.perf_counter() - start

    timed("warm-up")
    wrong = statistics.median(timed("manager") for _ in range(3))
    unknown = statistics.median(timed(f"nobody{n}") for n in range(3))
    # Without the dummy hash an unknown name answers in about a millisecond.
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)


@pytest.mark.slow
def test_health_answers_quickly_during_32_sign_ins(service: ServiceHarness) -> None:
    for n in range(32):
        service.add_user(f"user{n}", Role.LAB_MANAGER, department_code="HMC")
    service.client.get("/health")
    results: list[int] = []
    sign_in_s: list[float] = []

    def sign_in(n: int) -> None:
        started = time.perf_counter()
        results.append(login(service, f"user{n}"))
        sign_in_s.append(time.perf_counter() - started)

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    latencies = []
    time.sleep(0.05)  # the sign-ins are under way
    while any(thread.is_alive() for thread in threads) and len(latencies) < 50:
        start = time.perf_counter()
        assert service.client.get("/health").json() == {"status": "ok"}
        latencies.append(time.perf_counter() - start)
        time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=120)
    assert results == [200] * 32
    assert len(latencies) >= 10
    # Hashing on the event loop, or in every worker thread, makes a probe wait behind the
    # hashes as long as a sign-in does. Off the loop (two hash threads for 32 sign-ins) a
    # probe answers many times faster than the typical sign-in. Relative, not in seconds:
    # the machine's load slows both alike (absolute limits failed under load in CI). Two
    # scheduling hiccups are let pass (the first probe meets 32 requests starting at once).
    slowest_first = sorted(latencies, reverse=True)
    typical_sign_in_s = statistics.median(sign_in_s)
    assert slowest_first[2] < typical_sign_in_s / 4, (
        [round(x, 3) for x in slowest_first],
        round(typical_sign_in_s, 3),
    )


# --- CSRF -------------------------------------------------------------------------------------


def test_a_cross_site_cookie_post_is_refused(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    assert login(service, "admin") == 200  # the client now holds both cookies
    csrf = service.client.cookies["coupe_csrf"]
    evil = {"Origin": "https://evil.example"}
    assert service.client.post("/auth/logout", headers=evil).status_code == 403
    with_token = {**evil, "X-CSRF-Token": csrf}
    assert service.client.post("/auth/logout", headers=with_token).status_code == 403
    no_token = service.client.post("/auth/logout", headers={"Origin": "http://testserver"})
    assert no_token.status_code == 403
    assert no_token.json()["error"] == "forbidden"
    forged = service.client.post("/auth/logout", headers={"X-CSRF-Token": csrf + "0"})
    assert forged.status_code == 403
    assert service.client.get("/auth/me").status_code == 200  # reading needs no token
    same_site = {"Origin": "http://testserver", "X-CSRF-Token": csrf}
    assert service.client.post("/auth/logout", headers=same_site).status_code == 204


def test_a_bearer_post_needs_no_csrf_token(service: ServiceHarness) -> None:
    service.add_user("admin", Role.ADMIN)
    token = service.token("admin")
    new_user = {
        "username": "pjansen",
        "display_name": "P. Jansen",
        "password": "a long enough password",
        "role": "lab_manager",
        "department_code": "GHZ",
    }
    headers = {**bearer(token), "Origin": "https://elsewhere.example"}
    assert service.client.post("/users", json=new_user, headers=headers).status_code == 201


def test_the_cookies_are_secure_behind_tls(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from services.app import create_app
    from services.security import hash_password
    from services.settings import Settings
    from worklist.accounts import NewUser, create_user

    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
        behind_tls=True,
    )
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        engine = client.app.state.coupe.engine  # type: ignore[attr-defined]
        create_user(
            engine=engine,
            actor=Actor.system(),
            user=NewUser("admin", "Admin", hash_password(PASSWORD), Role.ADMIN),
        )
        answer = client.post("/auth/login", json={"username": "admin", "password": PASSWORD})
        cookies = answer.headers.get_list("set-cookie")
        assert len(cookies) == 2
        assert all("secure" in cookie.lower() for cookie in cookies)
        session_cookie = next(c for c in cookies if c.startswith("coupe_session="))
        csrf_cookie = next(c for c in cookies if c.startswith("coupe_csrf="))
        assert "httponly" in session_cookie.lower() and "httponly" not in csrf_cookie.lower()
