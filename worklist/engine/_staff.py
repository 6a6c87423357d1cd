"""The engine's working state: pathologists' loads during a round, and pools ranked by load.

Loads only grow during a round, which is what makes the lazy heaps below correct: an entry whose
recorded load is stale is too low, never too high, so it surfaces early, is re-keyed, and sinks.
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
        """Relative load ``(open + today) / today's capacity``."""
        return (self.open[i] + self.today[i]) / self.capacity[i]

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

    ``best`` pops the heap until it meets someone who fits, and puts back what it passed over.
    Two upper bounds (the most room and the most headroom anyone in the pool has left) let a full
    pool answer "nobody" without looking, which is most of the work once the day is booked.
    """

    __slots__ = ("_headroom_bound", "_heap", "_room_bound", "_staff", "_useless_below")

    def __init__(self, staff: Staff, members: Sequence[int], useless_below: float) -> None:
        self._staff = staff
        self._useless_below = useless_below
        self._heap: list[tuple[float, int]] = [
            (staff.load(i), i) for i in members if staff.available[i]
        ]
        heapq.heapify(self._heap)
        self._room_bound = max((staff.room(i) for _, i in self._heap), default=0.0)
        self._headroom_bound = max((staff.headroom(i) for _, i in self._heap), default=0.0)

    def best(self, minutes: float, *, need_room: bool) -> int | None:
        """The least-loaded member who can take ``minutes`` (ties: lowest id), or ``None``."""
        if minutes > self._headroom_bound or (need_room and minutes > self._room_bound):
            return None
        staff, heap = self._staff, self._heap
        passed: list[tuple[float, int]] = []
        most_room = most_headroom = 0.0
        found: int | None = None
        while heap:
            recorded, i = heap[0]
            current = staff.load(i)
            if current != recorded:
                heapq.heapreplace(heap, (current, i))
                continue
            headroom = staff.headroom(i)
            if headroom < self._useless_below:
                heapq.heappop(heap)  # can never take another task this round
                continue
            if staff.fits(i, minutes, need_room=need_room):
                found = i
                break
            most_room = max(most_room, staff.room(i))
            most_headroom = max(most_headroom, headroom)
            passed.append(heapq.heappop(heap))
        for entry in passed:
            heapq.heappush(heap, entry)
        if found is None:
            # The whole pool was seen, so these are the exact maxima now; they only shrink.
            self._room_bound = most_room
            self._headroom_bound = most_headroom
        return found
