"""The department and pathologist routes."""

from __future__ import annotations

import pytest

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import DEPARTMENTS, Person, pathologist


@pytest.fixture
def mulder(service: ServiceHarness) -> Person:
    return pathologist(service, "HMC-01")


def test_departments(service: ServiceHarness, mulder: Person) -> None:
    listed = service.client.get("/departments", headers=mulder.headers)
    assert listed.status_code == 200
    page = listed.json()
    assert [d["code"] for d in page["items"]] == sorted(DEPARTMENTS)  # by code
    assert (page["total"], page["next"]) == (len(DEPARTMENTS), None)
    first = service.client.get("/departments?limit=2", headers=mulder.headers).json()
    rest = service.client.get(
        "/departments", params={"cursor": first["next"]}, headers=mulder.headers
    ).json()
    assert [d["code"] for d in first["items"] + rest["items"]] == sorted(DEPARTMENTS)
    one = service.client.get("/departments/LUMC", headers=mulder.headers)
    assert one.status_code == 200
    assert one.json()["city"] == "Leiden"
    assert service.client.get("/departments/XYZ", headers=mulder.headers).status_code == 404
    assert service.client.get("/departments/lumc", headers=mulder.headers).status_code == 422
    assert service.client.get("/departments").status_code == 401


def test_pathologists(service: ServiceHarness, mulder: Person) -> None:
    everyone = service.client.get("/pathologists", headers=mulder.headers).json()["items"]
    assert {p["department_code"] for p in everyone} == set(DEPARTMENTS)
    hmc = service.client.get("/pathologists?department_code=HMC", headers=mulder.headers)
    hmc = hmc.json()["items"]
    assert hmc and all(p["department_code"] == "HMC" for p in hmc)
    derm = service.client.get(
        "/pathologists", params={"subspecialty": "dermatopathology"}, headers=mulder.headers
    ).json()["items"]
    assert derm and all("dermatopathology" in p["subspecialties"] for p in derm)
    one = service.client.get("/pathologists/HMC-01", headers=mulder.headers)
    assert one.status_code == 200
    body = one.json()
    assert body["subspecialties"] == ["gastro-intestinal", "urology"]
    assert body["working_days"] == ["mon", "wed", "fri"]
    assert body["code"] == "HMC-01"
    assert service.client.get("/pathologists/HMC-99", headers=mulder.headers).status_code == 404
    assert service.client.get("/pathologists/hmc-01", headers=mulder.headers).status_code == 422
    bad = service.client.get("/pathologists?department_code=h", headers=mulder.headers)
    assert bad.status_code == 422
    assert service.client.get("/pathologists").status_code == 401
