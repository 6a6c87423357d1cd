"""The sentences a lab manager reads next to each proposal. Wording only; no decisions here."""

from __future__ import annotations

from datetime import timedelta

from worklist.engine.snapshot import CaseSnapshot, PathologistSnapshot, SecondReadRule

__all__ = [
    "continuity",
    "escalation",
    "general_pool",
    "local_capacity",
    "regional_least_load",
    "second_read",
    "unplaced_primary",
    "unplaced_second_read",
]


def _minutes(value: float) -> str:
    return f"{value:,.0f}"


def duration(span: timedelta) -> str:
    """``"45 min"``, ``"5 h"``, ``"2 days 3 h"``."""
    total_min = int(span.total_seconds() // 60)
    days, rest_min = divmod(total_min, 24 * 60)
    hours, minutes = divmod(rest_min, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


def _what(case: CaseSnapshot, minutes: float) -> str:
    return f"{case.subspecialty} case {case.accession} ({_minutes(minutes)} min)"


def _free_today(person: PathologistSnapshot, room: float) -> str:
    return (
        f"{person.name} has {_minutes(room)} of {_minutes(person.capacity_today_minutes)} "
        "minutes free today"
    )


def local_capacity(
    case: CaseSnapshot, minutes: float, person: PathologistSnapshot, room: float
) -> str:
    """Why the case stays at its own department."""
    return (
        f"{_what(case, minutes)} from {case.department} stays at {case.department}: "
        f"{_free_today(person, room)}."
    )


def continuity(case: CaseSnapshot, minutes: float, person: PathologistSnapshot, room: float) -> str:
    """Why the case follows the patient's other cases."""
    return (
        f"{_what(case, minutes)} stays with {person.name} ({person.department}), "
        f"who holds this patient's other open cases; {_free_today(person, room)}."
    )


def regional_least_load(
    case: CaseSnapshot, minutes: float, person: PathologistSnapshot, load_ratio: float
) -> str:
    """Why the case leaves its department for the least-loaded colleague in the region."""
    return (
        f"{case.department}'s {case.subspecialty} pathologists have no room today for "
        f"{_what(case, minutes)}; it goes to {person.name} at {person.department}, "
        f"the least loaded in the region ({load_ratio:.0%} relative load)."
    )


def general_pool(
    case: CaseSnapshot, minutes: float, person: PathologistSnapshot, load_ratio: float
) -> str:
    """Why a specialist case goes to a generalist."""
    return (
        f"No {case.subspecialty} pathologist in the region has room today and the rules allow "
        f"the general pool for it: {_what(case, minutes)} goes to {person.name} at "
        f"{person.department} ({load_ratio:.0%} relative load)."
    )


def _deadline(case: CaseSnapshot, left: timedelta) -> str:
    if left < timedelta(0):
        return f"is overdue by {duration(-left)}"
    return f"is due in {duration(left)}"


def escalation(
    case: CaseSnapshot,
    minutes: float,
    person: PathologistSnapshot,
    load_ratio: float,
    left: timedelta,
    horizon: timedelta,
    *,
    overloaded: bool = False,
) -> str:
    """Why a case near its deadline went to the wider group."""
    return (
        f"{_what(case, minutes)} {_deadline(case, left)} (escalation horizon "
        f"{duration(horizon)}) and {case.department} cannot place it: escalated to "
        f"{person.name} at {person.department} ({load_ratio:.0%} relative load)"
        + (", past today's capacity as nobody in the wider group has room." if overloaded else ".")
    )


def _reviewer(rule: SecondReadRule, case: CaseSnapshot) -> str:
    if rule.experienced_in:
        return f"a pathologist experienced in {rule.experienced_in}"
    return f"a {case.subspecialty} pathologist"


def second_read(
    case: CaseSnapshot,
    rule: SecondReadRule,
    person: PathologistSnapshot,
    room: float,
    author_department: str,
    escalated: bool,
) -> str:
    """Why this pathologist gives the mandatory second read."""
    if person.department != author_department:
        site = f"at {person.department}, another site than the author's ({author_department})"
    else:
        site = f"at the author's own site ({author_department}), as no other site could"
    panel = f" (panel of {rule.reviewers})" if rule.reviewers > 1 else ""
    pressed = "; escalated near its deadline" if escalated else ""
    return (
        f"{rule.label} in {case.accession} needs a second read{panel} by "
        f"{_reviewer(rule, case)} who did not write the primary report: {person.name} "
        f"{site}; {_minutes(room)} of {_minutes(person.capacity_today_minutes)} minutes "
        f"free today{pressed}."
    )


def unplaced_primary(
    case: CaseSnapshot,
    minutes: float,
    *,
    anyone_present: bool,
    on_site_only: bool,
    near: bool,
    general_allowed: bool,
) -> str:
    """Why nobody could take the case this round."""
    where = f"at {case.department}" if on_site_only else "in the region"
    who = f"{case.subspecialty} pathologist"
    if general_allowed:
        who += " or general pathologist"
    if not anyone_present:
        return f"No {who} {where} is on the roster today for {case.accession}."
    limit = "under their personal maximum" if near else "today or under their personal maximum"
    return (
        f"No {who} {where} has room {limit} for {_what(case, minutes)}; "
        "it waits for the next round."
    )


def unplaced_second_read(case: CaseSnapshot, rule: SecondReadRule, *, has_author: bool) -> str:
    """Why a mandatory second read could not be given out."""
    if not has_author:
        return (
            f"{rule.label} in {case.accession} needs a second read, which waits until a "
            "primary pathologist is known."
        )
    return (
        f"{rule.label} in {case.accession} needs a second read by {_reviewer(rule, case)} "
        "other than the author, and none has room; it waits for the next round."
    )
