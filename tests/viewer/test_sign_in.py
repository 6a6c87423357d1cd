"""The sign-in page in Chromium: from the keyboard, a wrong password, the throttle, where it
goes afterwards (``next``, same site only), and an ended session coming back here and then
back to where the user was."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.viewer.conftest import DEMO_PASSWORD, ApiClient, DemoServer


def sign_in_with(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_signing_in_from_the_keyboard_lands_on_my_worklist(
    anonymous_page: Callable[[], Page],
    demo_server: DemoServer,
    assert_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Any],
) -> None:
    page = anonymous_page()
    page.goto("/")
    # No session: the worklist sends us to sign in, to come back to "/" afterwards.
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page, "sign-in")

    # From the top of the form (a click on the heading moves the keyboard's starting point).
    page.get_by_role("heading", name="Sign in").click()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("ghz")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{demo_server.base_url}/")
    worklist = page.get_by_role("table", name="My worklist")
    expect(worklist.get_by_role("link").first).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("Pathologist")
    screenshot(page, "worklist-after-sign-in")


def test_a_wrong_password_is_said_on_the_page_and_the_right_one_then_works(
    anonymous_page: Callable[[], Page],
    new_account: Callable[..., dict[str, Any]],
    demo_server: DemoServer,
    screenshot: Callable[[Page, str], Any],
) -> None:
    account = new_account("lab_manager", department_code="HMC")
    page = anonymous_page()
    page.goto("/sign-in")
    sign_in_with(page, account["username"], "not the password")

    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_be_focused()
    screenshot(page, "sign-in-wrong-password")

    sign_in_with(page, account["username"], account["password"])
    # A lab manager's landing page is the desk: "/" sends them on to the regional queue.
    expect(page).to_have_url(f"{demo_server.base_url}/desk/queue")
    expect(page.get_by_role("heading", name="Regional queue")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("")


def test_too_many_wrong_passwords_say_when_to_try_again(
    anonymous_page: Callable[[], Page], new_account: Callable[..., dict[str, Any]]
) -> None:
    account = new_account("lab_manager", department_code="LUMC")
    page = anonymous_page()
    page.goto("/sign-in")
    statuses = []
    for _ in range(6):  # the sixth is refused before the password is even checked
        with page.expect_response("**/auth/login") as answer:
            sign_in_with(page, account["username"], "wrong again")
        statuses.append(answer.value.status)
    assert statuses == [401] * 5 + [429]
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed sign-ins")
    expect(alert).to_contain_text(re.compile(r"Try again in \d+ minutes \(at \d\d:\d\d\)"))

    # The right password is refused too while the throttle holds, and says so again.
    with page.expect_response("**/auth/login") as answer:
        sign_in_with(page, account["username"], account["password"])
    assert answer.value.status == 429
    expect(page).to_have_url(re.compile(r"/sign-in$"))


def test_after_signing_in_it_goes_to_next_but_only_on_this_site(
    anonymous_page: Callable[[], Page], demo_server: DemoServer
) -> None:
    page = anonymous_page()
    page.goto("/sign-in?next=" + "%2F%3Ffrom%3Dtest%23top")
    expect(page.get_by_role("status")).to_contain_text("go back to the page you were on")
    sign_in_with(page, "hmc", DEMO_PASSWORD)
    expect(page).to_have_url(f"{demo_server.base_url}/?from=test#top")

    page.goto("/sign-in?next=" + "%2F%2Fevil.example%2Fphish")
    sign_in_with(page, "hmc", DEMO_PASSWORD)
    expect(page).to_have_url(f"{demo_server.base_url}/")

    # The rule itself, on every shape of address that leaves the site.
    verdicts = page.evaluate(
        """async (cases) => {
            const { safeNextPath } = await import("/static/js/api.js");
            return cases.map((raw) => safeNextPath(raw));
        }""",
        [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example/x",
            "/\t/evil.example/x",
            "javascript:alert(1)",
            "evil.example",
            "/sign-in?next=/",
            None,
            "/case/12?slide=3#view",
        ],
    )
    assert verdicts == ["/"] * 8 + ["/case/12?slide=3#view"]


def test_an_ended_session_goes_to_sign_in_and_back_to_where_you_were(
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[[str], ApiClient],
    demo_server: DemoServer,
) -> None:
    account = new_account("pathologist")
    page = signed_in_page(account["username"], password=account["password"])
    expect(page.get_by_role("heading", name="My worklist")).to_be_visible()
    expect(page.get_by_role("button", name="Claim next case")).to_be_enabled()

    # An administrator ends every session of the account (a lost laptop).
    status, _ = api_as("admin").delete(f"/users/{account['id']}/sessions")
    assert status == 204

    # The next action finds the session gone: to the sign-in page, which knows where we were.
    page.get_by_role("button", name="Claim next case").click()
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    sign_in_with(page, account["username"], account["password"])
    expect(page).to_have_url(f"{demo_server.base_url}/")
    expect(page.get_by_role("button", name="Claim next case")).to_be_enabled()


def test_signing_out_in_another_tab_ends_this_one_too(
    signed_in_page: Callable[..., Page], demo_server: DemoServer
) -> None:
    page = signed_in_page("lumc")
    expect(page.get_by_role("table", name="My worklist")).to_be_visible()
    other_tab = page.context.new_page()
    other_tab.goto("/")
    other_tab.get_by_role("button", name="Sign out").click()
    expect(other_tab).to_have_url(re.compile(r"/sign-in$"))

    page.reload()
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    sign_in_with(page, "lumc", DEMO_PASSWORD)
    expect(page.get_by_role("table", name="My worklist")).to_be_visible()
