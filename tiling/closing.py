"""Objects that hold a file open: usable in a ``with`` block that closes them at its end."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["ClosesOnExit"]


class ClosesOnExit:
    """A mixin for classes with ``close()``: ``with obj:`` closes ``obj`` however it ends."""

    def close(self) -> None:
        """Release what the object holds; subclasses override this."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
