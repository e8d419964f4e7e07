"""Silences: mute matching events for a while, at run time, with an author and a comment
(Alertmanager's ``silence`` package, as plain data and functions of time).

A :class:`Silence` holds matchers written as on Alertmanager's command line, ``FIELD=VALUE``,
``FIELD!=VALUE``, ``FIELD=~RE``, ``FIELD!~RE`` (or a rules matcher key, ``category_not=fire``),
compiled by the rules' own matcher compiler (same fields, same validation, same messages). All
matchers must hold. Like Alertmanager, a silence whose matchers all match an event without any
fields is refused (it would mute everything).

Time: a silence is *pending* before ``starts_at``, *active* in [``starts_at``, ``ends_at``) and
*expired* after; expiring one early sets ``ends_at`` to now. Nothing here reads a clock: every
function takes ``now``.

:class:`SilenceIndex` answers "which active silences match this event" without testing every
silence: each silence is filed under the values of one of its equality matchers (the field with
the most distinct values), so an event is tested only against silences filed under its own
values; silences with only regexes are filed by field, and all the regexes on one field run as one
RE2 set per event; only the rest (e.g. only negative matchers besides a regex on ``ward``) are
tested one by one.

    >>> silence = new_silence(["device=cam-q1-017"], starts_at=0, ends_at=7200, created_by="an",
    ...                       comment="camera under repair", silence_id="s-1")
    >>> silence.state(3600), silence.state(7200)
    ('active', 'expired')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from routers.rules.clock import LOCAL_TZ
from routers.rules.matchers import ABSENT, AnyInSet, Facts, InSet, Matcher, Regex, all_match
from routers.rules.problems import RulesFileError
from routers.rules.regex import RegexSet

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)(.*)$", re.DOTALL)
_SUFFIX = {"=": "", "!=": "_not", "=~": "_regex", "!~": "_not_regex"}
NOT_IN_SILENCES = frozenset({"threshold", "time", "weekdays"})
MAX_COMMENT = 2000


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


class SilenceError(ValueError):
    """A silence that cannot be created; ``problems`` lists each reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def matcher_key(text: str) -> tuple[str, str]:
    """``"category!=fire"`` -> (``"category_not"``, ``"fire"``): the rules matcher key and its value."""
    found = _MATCHER.match(text)
    if found is None:
        raise SilenceError([f"bad matcher {text!r}: write FIELD=VALUE, FIELD!=VALUE, FIELD=~REGEX or FIELD!~REGEX"])
    name, op, value = found.group(1), found.group(2), found.group(3).strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return name + _SUFFIX[op], value


def compile_silence_matchers(texts: Sequence[str]) -> tuple[Matcher, ...]:
    """The matchers of a silence, through the rules' compiler; raise :class:`SilenceError`."""
    from routers.rules.config import compile_match_block

    if not texts:
        raise SilenceError(["a silence needs at least one matcher (--match FIELD=VALUE)"])
    block: dict[str, Any] = {}
    problems: list[str] = []
    for text in texts:
        try:
            key, value = matcher_key(text)
        except SilenceError as exc:
            problems.extend(exc.problems)
            continue
        if key in NOT_IN_SILENCES:
            problems.append(f"{text!r}: {key} cannot be silenced on; a silence has its own time range (--for/--until)")
        elif key in block:
            problems.append(f"{text!r}: {key} is given twice (all of a silence's matchers must hold: write one)")
        elif key.endswith(("_gte", "_lt")):
            try:
                block[key] = float(value)
            except ValueError:
                problems.append(f"{text!r}: {key} needs a number")
        else:
            block[key] = value
    if problems:
        raise SilenceError(problems)
    try:
        matchers = compile_match_block(block)
    except RulesFileError as error:
        raise SilenceError([p.message for p in error.problems]) from None
    if all(matcher.test(NOTHING) for matcher in matchers):
        raise SilenceError(["at least one matcher must not match the empty string (this silence would mute "
                            "every event)"])
    return matchers


# An event with no fields: what Alertmanager's "matches the empty string" check tests against.
NOTHING = Facts("", "", None, None, None, "", None, (), None, None, None, None, None, None, None, frozenset(), 0.0)


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    match: tuple[str, ...]  # the matchers as written, e.g. ("device=cam-q1-017",)
    starts_at: float  # POSIX seconds
    ends_at: float
    created_by: str
    comment: str
    updated_at: float
    matchers: tuple[Matcher, ...] = field(default=(), compare=False, repr=False)

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def matches(self, facts: Facts) -> bool:
        return all_match(self.matchers, facts)

    def expired_at(self, now: float) -> Silence:
        """This silence expired now (Alertmanager: ends now; a pending one starts and ends now)."""
        if now >= self.ends_at:
            return self
        starts = min(self.starts_at, now)
        return replace(self, starts_at=starts, ends_at=now, updated_at=now)

    def describe(self, now: float) -> dict[str, Any]:
        """The silence as ``ioc silence ... --json`` prints it and the dashboard serves it at ``now``."""
        state = self.state(now)
        return {**self.to_json(), "state": state,
                "remaining_s": round(self.ends_at - now, 1) if state != "expired" else 0.0,
                "starts_at_local": _local(self.starts_at), "ends_at_local": _local(self.ends_at)}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "match": list(self.match), "starts_at": self.starts_at, "ends_at": self.ends_at,
                "created_by": self.created_by, "comment": self.comment, "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Silence:
        """A stored silence; its matchers are compiled again (raise :class:`SilenceError` when not valid)."""
        try:
            match = tuple(str(m) for m in data["match"])
            silence = cls(str(data["id"]), match, float(data["starts_at"]), float(data["ends_at"]),
                          str(data.get("created_by", "")), str(data.get("comment", "")),
                          float(data.get("updated_at", data["starts_at"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise SilenceError([f"not a silence: {exc}"]) from None
        return replace(silence, matchers=compile_silence_matchers(match))


def new_silence(match: Sequence[str], *, starts_at: float, ends_at: float, created_by: str, comment: str,
                silence_id: str) -> Silence:
    """Validate and build a silence (Alertmanager's rules: an author, a comment, an end after the start)."""
    problems: list[str] = []
    try:
        matchers = compile_silence_matchers(match)
    except SilenceError as exc:
        problems.extend(exc.problems)
        matchers = ()
    if not created_by.strip():
        problems.append("missing author (--author)")
    if not comment.strip():
        problems.append("missing comment (--comment)")
    if len(comment) > MAX_COMMENT:
        problems.append(f"comment longer than {MAX_COMMENT} characters")
    if ends_at <= starts_at:
        problems.append("end time must not be before start time")
    if problems:
        raise SilenceError(problems)
    return Silence(silence_id, tuple(match), starts_at, ends_at, created_by.strip(), comment.strip(), starts_at,
                   matchers)


# Which equality matcher a silence is filed under when it has several: the field with the most
# distinct values first, so each filing holds few silences (device ids and wards before kinds).
FILING_ORDER = ("device", "wards", "channel", "category", "label", "sensor_kind", "kind", "family", "province",
                "source")


def _filing(silence: Silence) -> tuple[str, frozenset[str]] | None:
    """The fact and values a silence is filed under: its most selective equality matcher, or None."""
    best: tuple[int, str, frozenset[str]] | None = None
    for matcher in silence.matchers:
        if isinstance(matcher, InSet) and not matcher.negate:
            name = matcher.field
        elif isinstance(matcher, AnyInSet) and not matcher.negate:
            name = "wards"
        else:
            continue
        rank = FILING_ORDER.index(name) if name in FILING_ORDER else len(FILING_ORDER)
        if best is None or rank < best[0]:
            best = (rank, name, matcher.values)
    return None if best is None else (best[1], best[2])


def _regex_filing(silence: Silence) -> Regex | None:
    """For a silence with no equality matcher: a regex on a single-valued field it must pass."""
    for matcher in silence.matchers:
        if isinstance(matcher, Regex) and not matcher.negate and not matcher.multi:
            return matcher
    return None


class SilenceIndex:
    """The silences of one moment, filed for lookup: ``matching(facts, now)`` tests only silences
    filed under the event's own values, those whose regex matched the event's field (all such
    regexes on one field run as one RE2 set), and the rest. Build a new index when the set changes."""

    __slots__ = ("_by_field", "_by_regex", "_unfiled", "size")

    def __init__(self, silences: Iterable[Silence]) -> None:
        self._by_field: dict[str, dict[str, list[Silence]]] = {}
        self._unfiled: list[Silence] = []
        self.size = 0
        by_regex: dict[str, list[tuple[Regex, Silence]]] = {}
        for silence in silences:
            self.size += 1
            filing = _filing(silence)
            if filing is not None:
                table = self._by_field.setdefault(filing[0], {})
                for value in filing[1]:
                    table.setdefault(value, []).append(silence)
                continue
            regex = _regex_filing(silence)
            if regex is not None:
                by_regex.setdefault(regex.field, []).append((regex, silence))
            else:
                self._unfiled.append(silence)
        self._by_regex = [(name, RegexSet([r.pattern for r, _ in pairs]), [s for _, s in pairs])
                          for name, pairs in by_regex.items()]

    def matching(self, facts: Facts, now: float) -> list[Silence]:
        """The active silences matching ``facts`` at ``now``, ordered by id."""
        found: list[Silence] = []
        for name, table in self._by_field.items():
            value = getattr(facts, name)
            if name == "wards":
                for ward in value or ABSENT:
                    found.extend(table.get(ward, ()))
            else:
                found.extend(table.get(value if value is not None else "", ()))
        for name, regexes, members in self._by_regex:
            value = getattr(facts, name)
            found.extend(members[i] for i in regexes.matching(value if value is not None else ""))
        found.extend(self._unfiled)
        if not found:
            return found
        hits = {s.id: s for s in found if s.starts_at <= now < s.ends_at and s.matches(facts)}
        return [hits[key] for key in sorted(hits)]


EMPTY_INDEX = SilenceIndex(())


RETENTION_S = 5 * 24 * 3600  # expired silences are kept this long (Alertmanager's --data.retention, 120h)


class SilenceBook:
    """Every silence known, by id, the latest version of each (by ``updated_at``), and the index of
    those not yet expired. Silences expired for longer than ``retention_s`` are dropped when the
    index is rebuilt. Pure: the streams side feeds it records and the time."""

    def __init__(self, retention_s: float = RETENTION_S) -> None:
        self.retention_s = retention_s
        self._by_id: dict[str, Silence] = {}
        self._index: SilenceIndex = EMPTY_INDEX
        self._index_until = float("inf")  # the index holds no silence that expired before this

    def apply(self, silence: Silence) -> bool:
        """Take a new or updated silence; False when it is older than the one held."""
        held = self._by_id.get(silence.id)
        if held is not None and held.updated_at > silence.updated_at:
            return False
        self._by_id[silence.id] = silence
        self._index_until = float("-inf")  # rebuild on next use
        return True

    def forget(self, silence_id: str) -> None:
        if self._by_id.pop(silence_id, None) is not None:
            self._index_until = float("-inf")

    def get(self, silence_id: str) -> Silence | None:
        return self._by_id.get(silence_id)

    def all(self) -> list[Silence]:
        return sorted(self._by_id.values(), key=lambda s: (s.starts_at, s.id))

    def index(self, now: float) -> SilenceIndex:
        """The index of silences not expired at ``now`` (rebuilt when the set changed or one expired)."""
        if now >= self._index_until:
            for stale in [k for k, s in self._by_id.items() if s.ends_at < now - self.retention_s]:
                del self._by_id[stale]
            live = [s for s in self._by_id.values() if s.ends_at > now]
            self._index = SilenceIndex(live)
            self._index_until = min((s.ends_at for s in live), default=float("inf"))
        return self._index

    def count(self, now: float, state: str = "active") -> int:
        return sum(1 for s in self._by_id.values() if s.state(now) == state)
