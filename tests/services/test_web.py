"""The web app as the service serves it: pages with the strict policy and revalidation, the
pages' own scripts and npm's, no way out of the static folders, and a clear error when
``npm ci`` has not run."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.app import create_app
from services.middleware import content_security_policy
from services.settings import Settings
from services.web import DESK_PAGES
from viewer.assets import ViewerAssetsMissingError, viewer_assets

IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)
STATIC_DIR = Path(__file__).resolve().parents[2] / "viewer" / "static"
PAGES = {"/": "worklist.html", "/sign-in": "sign-in.html", "/case/1": "case.html"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module: these tests only read static files."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("web") / "data",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())


def served_policy_admits_its_import_map(answer: Any) -> str:
    """The page's one import map, checked to be what its policy admits by hash."""
    (import_map,) = IMPORT_MAP.findall(answer.text)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in answer.headers["content-security-policy"]
    return str(import_map)


@pytest.mark.parametrize("path", ["/", "/sign-in"])
def test_pages_answer_with_the_base_policy_and_revalidation(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    policy = directives(answer.headers["content-security-policy"])
    assert policy["default-src"] == "'self'"
    # No inline script and no eval: only the page's own import map, admitted by its hash.
    assert re.fullmatch(r"'self' 'sha256-[A-Za-z0-9+/=]+'", policy["script-src"])
    served_policy_admits_its_import_map(answer)
    # The page file's body as it is (the head names its files by version).
    plain = (STATIC_DIR / PAGES[path]).read_text(encoding="utf-8")
    assert answer.text.split("<body", 1)[1] == plain.split("<body", 1)[1]


def test_the_case_page_alone_allows_eval_and_still_no_inline_script(
    client: TestClient,
) -> None:
    answer = client.get("/case/1")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-cache"
    policy = directives(answer.headers["content-security-policy"])
    assert re.fullmatch(r"'self' 'unsafe-eval' 'sha256-[A-Za-z0-9+/=]+'", policy["script-src"])
    assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
    served_policy_admits_its_import_map(answer)


def test_a_page_holds_no_patient_data_and_needs_no_session(client: TestClient) -> None:
    # The page is a static shell: its scripts ask the API, whose checks and audit apply.
    answer = client.get("/case/123456")
    assert answer.status_code == 200
    assert "123456" not in answer.text


def test_the_index_file_redirects_to_the_worklist(client: TestClient) -> None:
    answer = client.get("/index.html", follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == "/"


def test_the_pages_own_scripts_are_served_and_revalidated(client: TestClient) -> None:
    answer = client.get("/static/js/api.js")
    assert answer.status_code == 200
    assert "javascript" in answer.headers["content-type"]
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.text == (STATIC_DIR / "js" / "api.js").read_text(encoding="utf-8")
    etag = answer.headers["etag"]
    again = client.get("/static/js/api.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    css = client.get("/static/css/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_files_named_by_their_current_version_are_kept_for_good(client: TestClient) -> None:
    page = client.get("/case/1").text
    versioned = re.findall(r'(?:href|src)="(/static/[^"?]+)\?v=([0-9a-f]+)"', page)
    urls = {url for url, _ in versioned}
    assert {"/static/js/case.js", "/static/css/case.css"} <= urls
    assert "/static/vendor/openseadragon/openseadragon.min.js" in urls
    for url, version in versioned:
        answer = client.get(f"{url}?v={version}")
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable", url
    # Another version (an old release's page, a guess) is answered, and revalidated.
    stale = client.get("/static/js/case.js?v=0123456789abcdef")
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"
    # The version is the content's: a page served later names the same URLs.
    assert re.findall(r'(?:href|src)="(/static/[^"]+)"', client.get("/case/2").text) == [
        f"{url}?v={version}" for url, version in versioned
    ]


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/static/vendor/openseadragon/openseadragon.min.js", "javascript"),
        ("/static/vendor/openseadragon/images/zoomin_rest.png", "image/png"),
        ("/static/vendor/annotorious/annotorious-openseadragon.js", "javascript"),
        ("/static/vendor/annotorious/annotorious-openseadragon.css", "text/css"),
    ],
)
def test_the_vendored_packages_are_served_from_the_app(
    client: TestClient, path: str, media: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200, path
    assert media in answer.headers["content-type"]
    assert answer.headers["cache-control"] == "no-cache"
    assert len(answer.content) > 1000


@pytest.mark.parametrize(
    "path",
    [
        "/static/../services/app.py",
        "/static/%2e%2e/services/app.py",
        "/static/js/..%2f..%2f..%2fservices%2fapp.py",
        "/static/..%5c..%5cservices%5capp.py",
        "/static/vendor/openseadragon/..%2f..%2f..%2f..%2fpackage.json",
        "/static/vendor/annotorious/%2e%2e/%2e%2e/%2e%2e/%2e%2e/package-lock.json",
        "/static/%2fetc%2fpasswd",
    ],
)
def test_a_path_out_of_the_static_folders_is_refused(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404, (path, answer.status_code)
    assert "create_app" not in answer.text
    assert "root:" not in answer.text
    assert '"lockfileVersion"' not in answer.text


def test_missing_npm_packages_are_a_clear_error_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ViewerAssetsMissingError, match=r"make setup") as raised:
        viewer_assets(tmp_path / "node_modules")
    assert "openseadragon" in str(raised.value)
    assert isinstance(raised.value, RuntimeError)


class _InlineCode(HTMLParser):
    """Collects what the policy would block: inline script, style attributes and elements,
    event-handler attributes, ``javascript:`` links, anything loaded from another origin."""

    def __init__(self, policy: str) -> None:
        super().__init__()
        self.policy = policy
        self.problems: list[str] = []
        self._in_script = False
        self._import_map = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._in_script = True
            # An import map is always inline: allowed only where the policy admits its hash.
            self._import_map = values.get("type") == "importmap"
            if not values.get("src") and not self._import_map:
                self.problems.append("<script> without src")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
            if name in {"href", "src"} and value is not None:
                if value.strip().lower().startswith("javascript:"):
                    self.problems.append(f"javascript: {name} on <{tag}>")
                if re.match(r"^(https?:)?//", value.strip()):
                    self.problems.append(f"{name} from another origin on <{tag}>: {value}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if not (self._in_script and data.strip()):
            return
        if self._import_map:
            digest = base64.b64encode(hashlib.sha256(data.encode()).digest()).decode()
            if f"'sha256-{digest}'" not in self.policy:
                self.problems.append("an import map the policy does not admit by hash")
        else:
            self.problems.append("inline script text")


SERVED_AT = {
    **{file.removesuffix(".html"): path for path, file in PAGES.items()},
    **{name: path for path, (name, _) in DESK_PAGES.items()},
}
"""Page file name -> where the app serves it."""


def test_every_page_file_is_served() -> None:
    assert set(SERVED_AT) == {path.stem for path in STATIC_DIR.glob("*.html")}


@pytest.mark.parametrize("page", sorted(SERVED_AT))
def test_no_page_holds_code_the_policy_blocks(client: TestClient, page: str) -> None:
    answer = client.get(SERVED_AT[page])
    parser = _InlineCode(answer.headers["content-security-policy"])
    parser.feed(answer.text)
    assert parser.problems == [], page


def test_an_import_map_the_policy_does_not_admit_is_found() -> None:
    parser = _InlineCode(content_security_policy())
    parser.feed('<script type="importmap">{"imports": {"x": "/static/x.js"}}</script>')
    assert parser.problems == ["an import map the policy does not admit by hash"]
