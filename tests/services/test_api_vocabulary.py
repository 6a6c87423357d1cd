"""One vocabulary and one page shape across the API, read from its OpenAPI schema.

Every list is a page (``items``, ``limit``, ``next``, ``total``) asked for with ``limit`` and
``cursor``; a thing is named by one field in requests and responses alike; no request body
takes a field its schema does not name. See docs/api.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.app import create_app
from services.schemas.common import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT
from services.settings import Settings

Schema = dict[str, Any]

# concept: (the one field that names it, what any field naming it would match)
VOCABULARY: dict[str, tuple[str, str]] = {
    "pathologist": ("pathologist_code", r"pathologist|consultant|reader"),
    "department": ("department_code", r"department|site"),
    "user account": ("user_id", r"(^|_)(user|account|grantee)(_|$)"),
    "case": ("case_id", r"^case_(id|code|number)$|_case_id$"),
    "slide": ("slide_id", r"^slide_(code|number|id)$|_slide_id$"),
    "specimen": ("specimen_label", r"specimen"),
    "block": ("block_label", r"^block(_label|_code|_name|_id)?$"),
}
# The audit log names the actor and the site as the NEN 7513 record does, by name as it stood
# when they acted (a record outlives a renamed account): its record fields and the filters on
# them, nowhere else.
AUDIT_RECORD_FIELDS = {"user", "site"}
AUDIT_PLACES = {"AuditRecord", "GET /audit"}
PAGE_FIELDS = {"items", "limit", "next", "total"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    data_dir: Path = tmp_path_factory.mktemp("vocabulary") / "data"
    settings = Settings(
        data_dir=data_dir,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
    )
    return create_app(settings).openapi()


def operations(spec: Schema) -> Iterator[tuple[str, Schema]]:
    """("GET /cases", operation) for every operation."""
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def resolved(spec: Schema, schema: Schema) -> tuple[str | None, Schema]:
    """The component a ``$ref`` names (its name and schema), or the schema itself."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, spec["components"]["schemas"][name]


def objects(spec: Schema, schema: Schema, place: str) -> Iterator[tuple[str, Schema]]:
    """(where, object schema) for ``schema`` and every object schema reachable from it."""
    seen: set[int] = set()
    stack = [(place, schema)]
    while stack:
        where, item = stack.pop()
        name, item = resolved(spec, item)
        where = name or where
        if id(item) in seen:
            continue
        seen.add(id(item))
        if item.get("type") == "object" or "properties" in item:
            yield where, item
        for key in ("anyOf", "oneOf", "allOf"):
            stack.extend((where, part) for part in item.get(key, []))
        if isinstance(item.get("items"), dict):
            stack.append((where, item["items"]))
        for value in item.get("properties", {}).values():
            stack.append((where, value))


def nested(spec: Schema, schema: Schema) -> bool:
    """Whether a property holds another resource (an object, or a list of them): named by
    its own fields, not by the property's name."""
    for part in [schema, *schema.get("anyOf", [])]:
        _, item = resolved(spec, part)
        if item.get("type") == "array":
            _, item = resolved(spec, item.get("items", {}))
        if item.get("type") == "object" or "properties" in item:
            return True
    return False


def field_names(spec: Schema) -> Iterator[tuple[str, str, str]]:
    """(request or response, where, name) for every parameter and body field of the API."""
    for label, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            yield "request", label, parameter["name"]
        for media in operation.get("requestBody", {}).get("content", {}).values():
            for where, item in objects(spec, media.get("schema", {}), label):
                for name, value in item.get("properties", {}).items():
                    if not nested(spec, value):
                        yield "request", where, name
        for code, response in operation.get("responses", {}).items():
            if not code.startswith("2"):
                continue
            for media in response.get("content", {}).values():
                for where, item in objects(spec, media.get("schema", {}), label):
                    for name, value in item.get("properties", {}).items():
                        if not nested(spec, value):
                            yield "response", where, name


def list_routes(spec: Schema) -> Iterator[tuple[str, Schema, Schema]]:
    """(label, operation, the 200 answer's schema) for every GET that answers a list."""
    for label, operation in operations(spec):
        if not label.startswith("GET "):
            continue
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        answer = content.get("application/json", {}).get("schema")
        if answer is None:
            continue
        _, body = resolved(spec, answer)
        listed = body.get("properties", {}).get("items", {})
        if body.get("type") == "array" or listed.get("type") == "array":
            yield label, operation, body


def test_every_list_answers_the_one_page_shape(spec: Schema) -> None:
    found = list(list_routes(spec))
    assert len(found) >= 14, [label for label, _, _ in found]
    wrong = []
    for label, operation, body in found:
        properties = body.get("properties", {})
        if body.get("type") == "array":
            wrong.append(f"{label}: a bare JSON array")
            continue
        if set(properties) != PAGE_FIELDS or set(body.get("required", [])) != PAGE_FIELDS:
            wrong.append(f"{label}: fields {sorted(properties)}, not {sorted(PAGE_FIELDS)}")
            continue
        kinds = {
            name: {p.get("type") for p in properties[name].get("anyOf", [])} for name in PAGE_FIELDS
        }
        if kinds["next"] != {"string", "null"} or kinds["total"] != {"integer", "null"}:
            wrong.append(f"{label}: next must be a string or null, total an integer or null")
        parameters = {p["name"]: p for p in operation.get("parameters", [])}
        if "offset" in parameters or not {"limit", "cursor"} <= set(parameters):
            wrong.append(f"{label}: parameters {sorted(parameters)}; pages take limit and cursor")
            continue
        limit = parameters["limit"]["schema"]
        described = parameters["limit"].get("description", "")
        if not {"default", "maximum"} <= set(limit) or not (
            str(limit["default"]) in described and str(limit["maximum"]) in described
        ):
            wrong.append(f"{label}: limit's default and maximum must be documented")
        elif label != "GET /audit" and (limit["default"], limit["maximum"]) != (
            DEFAULT_PAGE_LIMIT,
            MAX_PAGE_LIMIT,
        ):
            wrong.append(f"{label}: limit {limit['default']}/{limit['maximum']}, not the common")
    assert wrong == []


def test_requests_and_responses_share_one_vocabulary(spec: Schema) -> None:
    names = list(field_names(spec))
    wrong = set()
    for concept, (chosen, pattern) in VOCABULARY.items():
        for side, where, name in names:
            if not re.search(pattern, name) or name == chosen or name.endswith(f"_{chosen}"):
                continue
            if name in AUDIT_RECORD_FIELDS and where in AUDIT_PLACES:
                continue
            wrong.add(f"{where}: {side} field {name!r} names a {concept}; the API says {chosen}")
        sides = {side for side, _, name in names if name == chosen}
        if sides != {"request", "response"}:
            wrong.add(f"{chosen} ({concept}) appears only in {sorted(sides)}")
    assert sorted(wrong) == []


def test_every_request_body_refuses_unknown_fields(spec: Schema) -> None:
    bodies = 0
    open_ended = []
    for label, operation in operations(spec):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            for where, item in objects(spec, media.get("schema", {}), label):
                # A model names its fields; a free-form value (GeoJSON) has none to name.
                if "properties" in item and item.get("additionalProperties") is not False:
                    open_ended.append(f"{label} ({media_type}): {where}")
    assert bodies >= 15
    assert open_ended == []
