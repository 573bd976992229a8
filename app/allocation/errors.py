"""Domain exceptions of the allocation engine."""

from __future__ import annotations

from dataclasses import dataclass


class AllocationError(Exception):
    """Base class of allocation errors."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an instance: a code, where it is, and a message."""

    code: str
    where: str
    message: str


class InstanceError(AllocationError):
    """The instance is invalid; ``problems`` names each offending id and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(p.message for p in problems))


class Problems:
    """Collector of problems that raises them together."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: str, where: str, message: str) -> None:
        """Record a problem."""
        self.items.append(Problem(code, where, message))

    def raise_if_any(self) -> None:
        """Raise InstanceError if any problem was recorded.

        :raises InstanceError: with every recorded problem.
        """
        if self.items:
            raise InstanceError(self.items)
