"""The Accounts page in Chromium (admins): create an account, a weak password refused with the
reason, reset a password in the dialog, end an account's sessions, disable and re-enable it;
each checked through the API's sign-in; axe-core and a screenshot."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.viewer.conftest import ApiClient, DemoServer

FIRST = "lantaarnpaal-gieter-97"
SECOND = "kruimeldief-parasol-31"


def can_sign_in(demo_server: DemoServer, username: str, password: str) -> bool:
    anonymous = ApiClient(demo_server.base_url, token="")
    status, _ = anonymous.request(
        "POST", "/auth/login", {"username": username, "password": password}
    )
    return status == 200


def open_accounts(page: Page) -> None:
    page.wait_for_url("**/desk/queue")  # "/" sends an admin to the desk first
    page.goto("/admin/accounts")
    expect(page.get_by_role("heading", name="Accounts", level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Accounts")).to_be_visible()


def test_an_admin_creates_resets_ends_sessions_disables_and_enables_an_account(
    demo_server: DemoServer,
    signed_in_page: Callable[..., Page],
    api_as: Callable[..., ApiClient],
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], object],
) -> None:
    page = signed_in_page("admin")
    open_accounts(page)
    username = f"test-accounts-{uuid.uuid4().hex[:8]}"

    page.get_by_label("Username").fill(username)
    page.get_by_label("Display name").fill("Test Accounts Page")
    page.get_by_label("Role").select_option("lab_manager")
    page.get_by_label("Department").select_option("GHZ")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert").first).to_contain_text("at least 12 characters")
    assert not can_sign_in(demo_server, username, "short")

    page.get_by_label("Password", exact=True).fill(FIRST)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Created {username}")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=username))
    expect(row).to_contain_text("Active")
    assert can_sign_in(demo_server, username, FIRST)
    assert_accessible(page, "admin-accounts")
    expect(page.get_by_role("button", name="Disable admin", exact=True)).to_have_count(0)

    session = api_as(username, FIRST)
    assert session.get("/auth/me")[0] == 200
    page.get_by_role("button", name=f"End sessions of {username}").click()
    expect(page.get_by_text(f"The sessions of {username} are ended")).to_be_visible()
    assert session.get("/auth/me")[0] == 401

    page.get_by_role("button", name=f"Reset password of {username}").click()
    dialog = page.get_by_role("dialog", name="Reset password")
    expect(dialog).to_be_visible()
    dialog.get_by_label("New password").fill(SECOND)
    screenshot(page, "admin-accounts-reset")
    dialog.get_by_role("button", name="Reset password").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text(f"The password of {username} is reset")).to_be_visible()
    assert not can_sign_in(demo_server, username, FIRST)
    assert can_sign_in(demo_server, username, SECOND)

    page.get_by_role("button", name=f"Disable {username}").click()
    expect(page.get_by_text(f"{username} is disabled")).to_be_visible()
    expect(page.get_by_role("rowheader", name=username)).to_have_count(0)
    assert not can_sign_in(demo_server, username, SECOND)

    page.get_by_label("Show disabled accounts").check()
    expect(row).to_contain_text("Disabled")
    page.get_by_role("button", name=f"Enable {username}").click()
    expect(page.get_by_text(f"{username} is enabled again")).to_be_visible()
    expect(row).to_contain_text("Active")
    assert can_sign_in(demo_server, username, SECOND)


def test_a_lab_manager_cannot_use_the_accounts_api(
    api_as: Callable[..., ApiClient],
) -> None:
    status, _ = api_as("manager").get("/users")
    assert status == 403
