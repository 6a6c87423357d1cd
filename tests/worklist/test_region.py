"""Region files: the packaged default loads; broken files fail with the file and the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import SMALL_REGION
from worklist.actor import Actor
from worklist.errors import RegionFileError, ValidationError
from worklist.models import Absence, AuditEvent, Pathologist
from worklist.region import default_region, load_region, parse_region
from worklist.seeding import import_region, region_changes


def test_the_default_region_has_the_six_departments() -> None:
    region = default_region()
    assert [d.code for d in region.departments] == ["HMC", "LUMC", "ALR", "GHZ", "HAGA", "RDGG"]
    assert len(region.pathologists) >= 30
    assert {p.department for p in region.pathologists} == {d.code for d in region.departments}
    assert region.rules.second_read_rule("gastro-intestinal", "barrett_dysplasia") is not None
    # The lymphoma panel needs two experienced haematopathologists.
    experienced = [p for p in region.pathologists if "haematopathology" in p.experienced_in]
    assert len(experienced) >= 2


def test_the_small_region_parses_rosters() -> None:
    region = parse_region(SMALL_REGION)
    part_timer = next(p for p in region.pathologists if p.code == "HMC-02")
    assert part_timer.roster.working_weekdays == {0, 1, 3, 4}
    on_leave = next(p for p in region.pathologists if p.code == "LUMC-01")
    assert len(on_leave.roster.absences) == 1


BROKEN = [
    ("[region\nname = 'x'", r"region\.toml: not valid TOML: .*line 1"),
    (
        SMALL_REGION.replace("fte = 0.8", "fte = 2.5"),
        r"region\.toml:\d+: pathologists\[1\] \(HMC-02\)\.fte: must lie in",
    ),
    (
        SMALL_REGION.replace(
            'department = "HMC"\nsubspecialties = ["derm',
            'department = "XYZ"\nsubspecialties = ["derm',
        ),
        r"pathologists\[1\] \(HMC-02\)\.department: no department 'XYZ'",
    ),
    (
        SMALL_REGION.replace("fte = 1.0", "fte = 1.0\nftee = 1"),
        r"pathologists\[0\] \(HMC-01\)\.ftee: unknown key",
    ),
    (SMALL_REGION.replace('"LUMC-01"', '"HMC-01"'), r"pathologist 'HMC-01' appears twice"),
    (
        SMALL_REGION.replace(
            'experienced_in = ["gastro-intestinal"]\nfte = 0.9',
            'experienced_in = ["lung"]\nfte = 0.9',
        ),
        r"experienced_in: 'lung' is not one of the subspecialties",
    ),
    (
        SMALL_REGION.replace("ends_on = 2025-08-08", "ends_on = 2025-07-01"),
        r"absences\[0\]: absence ends 2025-07-01 before it starts",
    ),
    (
        SMALL_REGION.replace(
            'working_days = ["mon", "tue", "thu", "fri"]', 'working_days = ["mon", "dinsdag"]'
        ),
        r"working_days: unknown weekday",
    ),
    (
        SMALL_REGION.replace("[rules]\n", "[rules]\nreviewers = 3\n"),
        r"rules\.reviewers: unknown key",
    ),
    ("[region]\nname = 'x'\n", r"departments: a region needs at least one"),
]


@pytest.mark.parametrize(("text", "message"), BROKEN, ids=range(len(BROKEN)))
def test_broken_region_files_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "region.toml"
    path.write_text(text)
    with pytest.raises(RegionFileError, match=message) as refused:
        load_region(path)
    assert str(path) in str(refused.value)
    assert isinstance(refused.value, ValidationError)


def test_a_missing_file_is_a_region_error(tmp_path: Path) -> None:
    with pytest.raises(RegionFileError, match="cannot read"):
        load_region(tmp_path / "nope.toml")


def test_import_is_repeatable_and_deactivates_the_departed(engine: Engine) -> None:
    region = parse_region(SMALL_REGION)
    first = import_region(engine=engine, actor=Actor.system(), region=region)
    smaller = parse_region(SMALL_REGION.split('[[pathologists]]\ncode = "LUMC-01"')[0])
    second = import_region(engine=engine, actor=Actor.system(), region=smaller)
    assert first.pathologist_ids == second.pathologist_ids
    with Session(engine) as session:
        people = {p.code: p for p in session.scalars(select(Pathologist))}
        assert not people["LUMC-01"].active and people["HMC-01"].active
        assert people["HMC-01"].experienced_in == {"gastro-intestinal"}
        assert people["HMC-02"].roster().working_weekdays == {0, 1, 3, 4}


def test_region_changes_are_listed_before_and_none_remain_after_an_import(engine: Engine) -> None:
    region = parse_region(SMALL_REGION)
    with Session(engine) as session:
        before = region_changes(session, region)
    assert "add department HMC (Haaglanden Medisch Centrum, Den Haag)" in before
    assert any(line.startswith("add pathologist LUMC-01") for line in before)
    applied = import_region(engine=engine, actor=Actor.system(), region=region)
    assert list(applied.changes) == before
    with Session(engine) as session:
        assert region_changes(session, region) == []
        events = session.scalar(select(func.count()).select_from(AuditEvent))
    again = import_region(engine=engine, actor=Actor.system(), region=region)
    assert again.changes == () and again.pathologist_ids == applied.pathologist_ids
    with Session(engine) as session:  # an import with nothing to do records nothing
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_an_edit_shows_as_its_change_and_page_absences_survive_a_reimport(engine: Engine) -> None:
    import_region(engine=engine, actor=Actor.system(), region=parse_region(SMALL_REGION))
    with Session(engine) as session:
        person = session.scalars(select(Pathologist).where(Pathologist.code == "HMC-02")).one()
        person.absences.append(Absence(starts_on=date(2026, 3, 9), ends_on=date(2026, 3, 9)))
        session.commit()
    edited = parse_region(
        SMALL_REGION.replace(
            'subspecialties = ["dermatopathology"]\nfte = 0.8',
            'subspecialties = ["dermatopathology", "cytology"]\nfte = 0.6',
        )
    )
    with Session(engine) as session:
        changes = region_changes(session, edited)
    assert changes == [
        "change pathologist HMC-02: FTE 0.8 -> 0.6",
        "change pathologist HMC-02: subspecialties ['dermatopathology'] -> "
        "['cytology', 'dermatopathology']",
    ]
    import_region(engine=engine, actor=Actor.system(), region=edited)
    with Session(engine) as session:
        person = session.scalars(select(Pathologist).where(Pathologist.code == "HMC-02")).one()
        assert person.fte == 0.6 and person.subspecialty_names == {"dermatopathology", "cytology"}
        assert [a.starts_on for a in person.absences] == [date(2026, 3, 9)]
        assert region_changes(session, edited) == []
