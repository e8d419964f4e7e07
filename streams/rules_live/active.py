"""The ruleset a worker routes with, swapped atomically: :class:`ActiveRules`.

Readers call :meth:`ActiveRules.current` once per batch and use that object for the whole batch; a
swap is one reference assignment, so a batch never mixes two versions. The worker starts with
``settings.rules_file`` when set, else the built-in default (:func:`initial_ruleset`); later versions
arrive from ``ioc.config.rules`` (:class:`streams.rules_live.follow.RulesFollower`). One object per
worker, built by the composition root (:mod:`streams.services`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from routers import limits
from routers.rules import Ruleset, default_ruleset, load_ruleset
from streams import metrics
from streams.settings import load_settings

log = logging.getLogger(__name__)


def initial_ruleset(rules_file: Path | None = None) -> Ruleset:
    """``rules_file`` (or ``IOC_RULES_FILE``) when set, else the built-in default."""
    path = rules_file if rules_file is not None else load_settings().rules_file
    if path is None:
        return default_ruleset()
    return load_ruleset(limits.read_text(Path(path), limits.RULES_FILE_BYTES, "rules"), str(path))


class ActiveRules:
    """Holds the running ruleset and who applied it; every switch updates ``ioc_rules_info``.

    Switches come from one task (the follower) on the event loop and reads from the agents on the
    same loop; a read is a plain attribute read, so a reader on another thread also sees either
    the old or the new version, never a mix.
    """

    __slots__ = ("_applied_by", "_ruleset")

    def __init__(self, ruleset: Ruleset, applied_by: str = "startup") -> None:
        self._ruleset = ruleset
        self._applied_by = applied_by
        self._announce(None)

    @classmethod
    def load(cls, rules_file: Path | None) -> ActiveRules:
        """Start with ``rules_file`` (None: the built-in default); raises for an invalid file."""
        return cls(default_ruleset() if rules_file is None else initial_ruleset(rules_file))

    def current(self) -> Ruleset:
        return self._ruleset

    @property
    def applied_by(self) -> str:
        return self._applied_by

    def switch(self, ruleset: Ruleset, applied_by: str = "") -> None:
        """Route every later batch with ``ruleset``."""
        previous = self._ruleset
        self._ruleset, self._applied_by = ruleset, applied_by
        self._announce(previous)

    def _announce(self, previous: Ruleset | None) -> None:
        ruleset, by = self._ruleset, self._applied_by
        metrics.rules_info.info({"version": ruleset.version, "source": ruleset.source, "applied_by": by or "-"})
        if previous is None or previous.version != ruleset.version:
            log.warning("rules: now routing with %s (from %s, applied by %s)", ruleset.version, ruleset.source,
                        by or "-")
