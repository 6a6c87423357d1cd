"""The worklist step of ``coupe demo``: dates relative to today, rounds, and slides per case."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.commands.demo_slides import HE_STAIN, DemoTissue
from services.commands.demo_worklist import DEMO_DAYS, _arrivals, demo_rounds

TISSUES = tuple(
    DemoTissue(name, w, h, Path(f"/demo/{name}-he.svs"), Path(f"/demo/{name}-ihc.svs"))
    for name, w, h in (("small", 2220, 2967), ("mid", 8000, 6000), ("big", 20000, 15000))
)


def test_a_weekday_has_one_round_now_and_a_weekend_friday_mornings_first() -> None:
    wednesday = datetime(2026, 12, 2, 4, 17, tzinfo=UTC)
    assert demo_rounds(wednesday) == (wednesday,)
    sunday = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
    assert demo_rounds(sunday) == (datetime(2026, 12, 4, 7, 30, tzinfo=UTC), sunday)


def test_the_week_ends_today_and_nothing_arrives_after_now() -> None:
    for now in (
        datetime(2026, 12, 2, 4, 17, tzinfo=UTC),  # before the day's first arrival
        datetime(2026, 12, 2, 23, 0, tzinfo=UTC),
        datetime(2027, 7, 3, 0, 0, 30, tzinfo=UTC),  # a Saturday, just after midnight
    ):
        cases = _arrivals(now, TISSUES)
        received = [c.received_at for c in cases if c.received_at is not None]
        assert len(received) == len(cases)
        assert max(received).date() == now.date()
        assert max(received) <= now
        assert min(received).date() == now.date() - timedelta(days=DEMO_DAYS - 1)


def test_the_demo_is_the_same_for_a_date_whatever_the_hour() -> None:
    morning = _arrivals(datetime(2026, 12, 2, 6, 0, tzinfo=UTC), TISSUES)
    evening = _arrivals(datetime(2026, 12, 2, 22, 0, tzinfo=UTC), TISSUES)
    assert [(c.department, c.tumour_group, c.specimens) for c in morning] == [
        (c.department, c.tumour_group, c.specimens) for c in evening
    ]


def test_every_case_has_one_to_four_slides_on_one_tissue_he_on_each_block() -> None:
    cases = _arrivals(datetime(2026, 12, 2, 12, 0, tzinfo=UTC), TISSUES)
    files_by_tissue = [{str(t.he_file), str(t.ihc_file)} for t in TISSUES]
    tissue_use: Counter[int] = Counter()
    with_ihc = 0
    for case in cases:
        slides = [s for sp in case.specimens for b in sp.blocks for s in b.slides]
        assert 1 <= len(slides) <= 4
        for specimen in case.specimens:
            for block in specimen.blocks:
                assert block.slides[0].stain == HE_STAIN
        files = {s.file_path for s in slides}
        (tissue,) = [i for i, f in enumerate(files_by_tissue) if files <= f]
        tissue_use[tissue] += 1
        for slide in slides:
            he = slide.stain == HE_STAIN
            assert slide.file_path == str(
                TISSUES[tissue].he_file if he else TISSUES[tissue].ihc_file
            )
        with_ihc += any(s.stain != HE_STAIN for s in slides)
    assert set(tissue_use) == {0, 1, 2}
    assert 0.25 < with_ihc / len(cases) < 0.6
