"""The ruleset this worker routes with, swapped atomically.

Readers call :func:`active_ruleset` once per batch and use that object for the whole batch; a
swap is one reference assignment, so a batch never mixes two versions. Until a version arrives
from ``ioc.config.rules``, the active ruleset is ``settings.rules_file`` when set, else the
built-in default.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from routers import limits
from routers.rules import Ruleset, default_ruleset, load_ruleset
from streams import metrics
from streams.settings import load_settings

log = logging.getLogger(__name__)

_lock = threading.Lock()  # guards only the first load; reads after that are a plain reference read
_active: Ruleset | None = None
_applied_by: str = ""


def initial_ruleset(rules_file: Path | None = None) -> Ruleset:
    """``rules_file`` (or ``IOC_RULES_FILE``) when set, else the built-in default."""
    path = rules_file if rules_file is not None else load_settings().rules_file
    if path is None:
        return default_ruleset()
    return load_ruleset(limits.read_text(Path(path), limits.RULES_FILE_BYTES, "rules"), str(path))


def active_ruleset() -> Ruleset:
    global _active
    current = _active
    if current is not None:
        return current
    with _lock:
        if _active is None:
            _set(initial_ruleset(), "startup")
        assert _active is not None
        return _active


def applied_by() -> str:
    return _applied_by


def set_active(ruleset: Ruleset, applied_by: str = "") -> None:
    """Switch every later :func:`active_ruleset` call to ``ruleset`` and update ``ioc_rules_info``."""
    with _lock:
        _set(ruleset, applied_by)


def _set(ruleset: Ruleset, by: str) -> None:
    global _active, _applied_by
    previous = _active
    _active, _applied_by = ruleset, by
    metrics.rules_info.info({"version": ruleset.version, "source": ruleset.source, "applied_by": by or "-"})
    if previous is None or previous.version != ruleset.version:
        log.warning("rules: now routing with %s (from %s, applied by %s)", ruleset.version, ruleset.source, by or "-")

