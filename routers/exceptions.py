"""Errors of the pure routing core. Each names what was wrong and where."""

from __future__ import annotations


class RoutersError(Exception):
    """Base class for routing-core errors."""


class Rejected(RoutersError):
    """Input that cannot become an event; ``reason`` is a short stable code for metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BoundaryError(RoutersError):
    """A boundary file or generation is unusable (or none is active)."""


class RulesError(RoutersError):
    """A rules file is invalid; the message names the line and column."""


class FilteredOut(RoutersError):
    """A valid camera message that maps to no IOC label (a person walking by): filtered, not
    dead-lettered. ``reason`` is a short stable code for ``ioc_filtered_total``; ``summary`` says
    what the message was, without personal data."""

    def __init__(self, reason: str, event_id: str, summary: dict[str, object]) -> None:
        super().__init__(f"{reason}: {event_id}")
        self.reason = reason
        self.event_id = event_id
        self.summary = summary
