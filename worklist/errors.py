"""The worklist's exceptions: one base class, so callers can catch "any worklist error".

Not-found errors also subclass :class:`LookupError` and permission errors :class:`PermissionError`,
so code that knows nothing of Coupe can still catch them.
"""

from __future__ import annotations


class WorklistError(Exception):
    """Base class of every error the worklist raises on purpose."""


class NotFoundError(WorklistError, LookupError):
    """A case, pathologist, slide or other record does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} does not exist")
        self.kind = kind
        self.key = key


class InvalidTransitionError(WorklistError):
    """A case cannot move from its current status to the requested one."""

    def __init__(
        self, case: str, current: str, target: str, reason: str = "", *, message: str = ""
    ) -> None:
        if not message:
            message = f"case {case!r} cannot go from {current!r} to {target!r}"
            message = f"{message}: {reason}" if reason else message
        super().__init__(message)
        self.case = case
        self.current = current
        self.target = target


class SignedOutError(InvalidTransitionError):
    """The case is signed out: its report is frozen and only an addendum may follow.

    Said before anything else about a signed-out case (who holds it, what its status allows),
    so the pathologist learns what to do instead.
    """

    def __init__(self, case: str, target: str, message: str = "") -> None:
        super().__init__(
            case,
            "signed_out",
            target,
            message=message or f"case {case!r} is signed out; add an addendum instead",
        )


class ReportStateError(InvalidTransitionError):
    """The case's report does not allow the move: sign-out without a conclusion, an addendum
    before sign-out."""

    def __init__(self, case: str, current: str, target: str, problem: str) -> None:
        super().__init__(case, current, target, message=f"case {case!r}: {problem}")


class AlreadyAssignedError(WorklistError):
    """The case already has an active primary assignment (someone else won the race)."""


class NotAssignedError(WorklistError):
    """The operation needs an assignment the pathologist or case does not have."""


class DuplicateAccessionError(WorklistError):
    """An accession number is already taken (by an earlier case, or twice in one intake)."""

    def __init__(self, accession_number: str | None, detail: str = "") -> None:
        what = (
            f"accession number {accession_number!r}" if accession_number else "an accession number"
        )
        super().__init__(f"{what} is already in use{': ' + detail if detail else ''}")
        self.accession_number = accession_number


class ConflictOfInterestError(WorklistError):
    """A second reader or consultant would review their own case."""


class OutsideSubspecialtyError(WorklistError):
    """A case would go to a pathologist whose subspecialties do not include its tumour group,
    and nobody confirmed that this is meant (409: send the confirmation to go ahead)."""


class ConcurrentUpdateError(WorklistError):
    """The record changed since it was read; reload and retry."""


class DatabaseBusyError(ConcurrentUpdateError):
    """The database stayed locked by other writers longer than the retry budget."""


class JobStateError(WorklistError):
    """A tiling job is not in the state the transition needs (retrying a job that has not
    failed, a second unfinished job for one slide)."""


class NotPermittedError(WorklistError, PermissionError):
    """The actor's role does not allow the operation."""


class ValidationError(WorklistError, ValueError):
    """Input is malformed (an accession number, GeoJSON, a roster)."""


class RegionFileError(ValidationError):
    """A region file cannot be read; the message names the file and the key or line."""
