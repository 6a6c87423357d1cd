"""A case of a test's own: a new pathologist account claims one (with the demo's slides, which
open), so the test may change it without touching what other tests see. ``own_case`` is a
fixture (registered in ``conftest.py``); ``claimed_case`` serves tests that make the account
themselves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page

if TYPE_CHECKING:  # conftest imports this module: no import back at run time
    from tests.viewer.conftest import ApiClient

__all__ = ["OwnCase", "claimed_case", "own_case"]


def claimed_case(api: ApiClient) -> dict[str, Any]:
    """A case ``api``'s pathologist claims (with the demo's slides, which open); its detail."""
    status, claimed = api.post("/worklist/claim-next", {"own_subspecialties_only": False})
    assert status == 200 and claimed["assignment"] is not None, claimed
    status, detail = api.get(f"/cases/{claimed['assignment']['case']['case_id']}")
    assert status == 200, detail
    return dict(detail)


@dataclass
class OwnCase:
    """A case claimed by a pathologist account of the test's own, and a page signed in as it."""

    api: ApiClient
    case: dict[str, Any]
    open_page: Callable[[], Page]


@pytest.fixture
def own_case(
    signed_in_page: Callable[..., Page],
    new_account: Callable[..., dict[str, Any]],
    api_as: Callable[..., ApiClient],
) -> OwnCase:
    """A new pathologist account claims a case (with the demo's slides, which open)."""
    account = new_account("pathologist")
    api = api_as(account["username"], account["password"])
    return OwnCase(
        api=api,
        case=claimed_case(api),
        open_page=lambda: signed_in_page(account["username"], account["password"]),
    )
