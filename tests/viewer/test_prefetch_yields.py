"""The next case's prefetch yields to the open slide, in Chromium on the demo: it asks for
nothing until the page's gate (``whenIdle``) opens, and waits at it before every request.

The pathologist is an account of the test's own on a case it claims; the prefetch fetched
here is of that same case (what it fetches does not matter, only when).
"""

from __future__ import annotations

from typing import Any

from tests.viewer.case_panels import open_case
from tests.viewer.own_case import OwnCase

# prefetchCase behind a gate the test opens; counts the gate's waits and the requests asked.
PREFETCH_BEHIND_GATE = """async (caseId) => {
  const { prefetchCase } = await import("/static/js/prefetch.js");
  let open;
  const gate = new Promise((resolve) => { open = resolve; });
  window.__gate = { open, waits: 0, result: null };
  const whenIdle = () => { window.__gate.waits += 1; return gate; };
  prefetchCase(caseId, 800, 600, { whenIdle }).then((result) => { window.__gate.result = result; });
}"""


def prefetch_requests(requests: list[Any], case_id: int) -> list[str]:
    return [
        request.url
        for request in requests
        if request.headers.get("coupe-purpose") == "prefetch"
        and (f"/cases/{case_id}/" in request.url or "/slides/" in request.url)
    ]


def test_the_prefetch_asks_for_nothing_until_the_page_is_idle(own_case: OwnCase) -> None:
    case = own_case.case
    page = own_case.open_page()
    open_case(page, case["id"])
    page.wait_for_function(
        "() => ['done', 'failed'].includes(document.getElementById('next-case').dataset.prefetch)"
        " || document.getElementById('next-case').disabled",
        timeout=30_000,
    )
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))

    page.evaluate(PREFETCH_BEHIND_GATE, case["id"])
    page.wait_for_timeout(1000)
    # Held at the gate before its first request: nothing asked.
    assert page.evaluate("() => window.__gate.waits") == 1
    assert page.evaluate("() => window.__gate.result") is None
    assert prefetch_requests(requests, case["id"]) == []

    page.evaluate("() => window.__gate.open()")
    page.wait_for_function("() => window.__gate.result !== null", timeout=30_000)
    result = page.evaluate("() => window.__gate.result")
    assert result["done"] and result["tiles"] > 0 and result["failed"] == 0, result
    # One wait before each request: the slide list, each thumbnail, the descriptor, each tile.
    asked = 1 + result["thumbnails"] + 1 + result["tiles"]
    assert page.evaluate("() => window.__gate.waits") >= asked
    assert len(prefetch_requests(requests, case["id"])) >= asked
