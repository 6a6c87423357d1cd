"""The engine's working state: pathologists' loads during a round, and pools ranked by load.

Loads only grow during a round, which is what makes the lazy heaps below correct: an entry whose
recorded load is stale is too low, never too high, so it surfaces early, is re-keyed, and sinks;
and room only shrinks, so a member dropped from a heap for lack of room never needs to return.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from worklist.engine.snapshot import PathologistSnapshot

__all__ = ["Pool", "Staff"]


class Staff:
    """Mutable per-round state of the pathologists, by index in pathologist-id order.

    Index order is id order, so comparing ``(load, index)`` breaks ties by pathologist id.
    """

    __slots__ = (
        "available",
        "by_id",
        "capacity",
        "max_open",
        "open",
        "people",
        "today",
    )

    def __init__(self, pathologists: Iterable[PathologistSnapshot]) -> None:
        self.people: tuple[PathologistSnapshot, ...] = tuple(
            sorted(pathologists, key=lambda p: p.pathologist_id)
        )
        self.by_id: dict[int, int] = {p.pathologist_id: i for i, p in enumerate(self.people)}
        self.open: list[float] = [p.open_minutes for p in self.people]
        self.today: list[float] = [p.today_minutes for p in self.people]
        self.capacity: list[float] = [p.capacity_today_minutes for p in self.people]
        self.max_open: list[float] = [p.max_open_minutes for p in self.people]
        # Present on the roster with diagnostic time today: nobody else is ever eligible.
        self.available: list[bool] = [
            p.present and p.capacity_today_minutes > 0 for p in self.people
        ]

    def load(self, i: int) -> float:
        """Relative load: open minutes (today's included) / today's capacity."""
        return self.open[i] / self.capacity[i]

    def room(self, i: int) -> float:
        """Minutes left in today's capacity."""
        return self.capacity[i] - self.today[i]

    def headroom(self, i: int) -> float:
        """Minutes left under the personal maximum."""
        return self.max_open[i] - self.open[i]

    def fits(self, i: int, minutes: float, *, need_room: bool) -> bool:
        """Whether ``i`` can take ``minutes`` more: always under the maximum, today if asked."""
        if self.open[i] + minutes > self.max_open[i]:
            return False
        return not need_room or self.today[i] + minutes <= self.capacity[i]

    def take(self, i: int, minutes: float) -> None:
        """Book ``minutes`` on ``i``: open now, and assigned today."""
        self.open[i] += minutes
        self.today[i] += minutes


class Pool:
    """A group of interchangeable pathologists, cheapest (lowest relative load) first.

    One heap per kind of question (the task's minutes, and whether today's capacity binds):
    a task's minutes take only a few values in a round (one per category, plus the frozen
    section and second-opinion shares). Room and headroom only shrink during a round, so a
    member who cannot take ``minutes`` now never will: ``best`` drops them from that heap for
    good, and each member leaves each heap at most once (no rescans of the full ones).
    """

    __slots__ = ("_heaps", "_members", "_staff")

    def __init__(self, staff: Staff, members: Sequence[int], useless_below: float) -> None:
        self._staff = staff
        # Someone without headroom for the round's smallest task can never take anything.
        self._members = [
            i for i in members if staff.available[i] and staff.headroom(i) >= useless_below
        ]
        self._heaps: dict[tuple[float, bool], list[tuple[float, int]]] = {}

    def _heap(self, minutes: float, need_room: bool) -> list[tuple[float, int]]:
        key = (minutes, need_room)
        heap = self._heaps.get(key)
        if heap is None:
            staff = self._staff
            heap = [
                (staff.load(i), i)
                for i in self._members
                if staff.fits(i, minutes, need_room=need_room)
            ]
            heapq.heapify(heap)
            self._heaps[key] = heap
        return heap

    def best(self, minutes: float, *, need_room: bool) -> int | None:
        """The least-loaded member who can take ``minutes`` (ties: lowest id), or ``None``."""
        staff, heap = self._staff, self._heap(minutes, need_room)
        while heap:
            recorded, i = heap[0]
            current = staff.load(i)
            if current != recorded:
                heapq.heapreplace(heap, (current, i))  # loads only grow: re-key, let it sink
                continue
            if staff.fits(i, minutes, need_room=need_room):
                return i
            heapq.heappop(heap)  # full for this question, and stays so this round
        return None
