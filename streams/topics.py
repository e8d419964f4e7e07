"""The topic names, as the streams layer imports them: they are defined once, in
:mod:`routers.topics` (the pure router names the topic of every message it decides on)."""

from __future__ import annotations

from routers.topics import *  # noqa: F403
