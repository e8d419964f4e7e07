"""Every citizen report id of an incident, in order, in little memory.

An open incident gathers report ids for as long as it stays open (each gets a result when it is
resolved), so they are most of what a worker keeps per report: as a tuple of ``str`` ~90 bytes an
id, and in a real-time soak nothing resolves for the first ten minutes, so every report of the run
stays (docs/lifecycle.md, "Memory"). Here the ids live in chunks of :data:`CHUNK`, each one
``bytes`` object: a full chunk sealed (zlib-compressed JSON: ids from one source share most of
their characters, ~6 bytes an id for the 1022 portal's), the chunk being filled its JSON array
(~30 bytes an id: at ~0.1 reports a second per open incident, a chunk takes minutes to fill, so
the open chunks are most of what a soak's incidents hold). Appending, what every report folded in
does, splices the new id's JSON into that array (sealing once per :data:`CHUNK`); decoding is for
the rare moments that need every id (a status change names them all, a resolve sends each a
result).

The ``lifecycle-reports`` table stores the very same ``bytes`` objects (shared). The changelog
carries every chunk as its list of ids (:func:`chunk_ids` is the table's encoder), and a restored
list becomes a chunk again.

Invariant kept: iterating gives the ids in the order they were added; equality and hashing follow
that order (a tuple or list of the same ids compares equal).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import orjson

from routers import json_bytes

CHUNK = 64
_OPEN = b"["  # a chunk being filled is its JSON array; a sealed one is zlib output, which never starts so


def _seal(ids: list[str]) -> bytes:
    return zlib.compress(orjson.dumps(ids), 6)


def _ids_of(chunk: bytes) -> list[str]:
    ids: list[str] = orjson.loads(chunk if chunk[:1] == _OPEN else zlib.decompress(chunk))
    return ids


def chunk_ids(value: Any) -> list[str]:
    """The ids of a table's chunk: its bytes, or the list a changelog record restored."""
    if isinstance(value, bytes):
        return _ids_of(value)
    return [i for i in value or () if isinstance(i, str)]


def chunk_record(value: Any) -> orjson.Fragment | list[str]:
    """A table's chunk as its changelog record carries it, the JSON list of its ids: a chunk's
    bytes are that JSON already (sealed: once decompressed), so the table's encoder need not
    decode and serialize them again (a record per incident changed in a batch)."""
    if isinstance(value, bytes):
        return orjson.Fragment(value if value[:1] == _OPEN else zlib.decompress(value))
    return chunk_ids(value)


class ReportIds(Sequence[str]):
    """An immutable, ordered sequence of report ids: sealed full chunks, then the open one."""

    __slots__ = ("_sealed", "_tail", "_tail_count")

    def __init__(self, sealed: tuple[bytes, ...] = (), tail: bytes = b"", tail_count: int = 0) -> None:
        self._sealed = sealed
        self._tail = tail  # the open chunk's JSON array; b"" when it has none
        self._tail_count = tail_count

    @classmethod
    def of(cls, ids: Iterable[str]) -> ReportIds:
        listed = list(ids)
        full = len(listed) - len(listed) % CHUNK
        rest = listed[full:]
        return cls(tuple(_seal(listed[n:n + CHUNK]) for n in range(0, full, CHUNK)),
                   json_bytes.dumps(rest) if rest else b"", len(rest))

    @classmethod
    def from_chunks(cls, chunks: Iterable[Any]) -> ReportIds:
        """From a table's chunks in order (bytes, or lists a changelog restored): all full but the last."""
        sealed: list[bytes] = []
        tail, tail_count = b"", 0
        for chunk in chunks:
            if isinstance(chunk, bytes) and chunk[:1] != _OPEN:
                sealed.append(chunk)
                continue
            ids = chunk_ids(chunk)
            if len(ids) == CHUNK:
                sealed.append(_seal(ids))
            elif ids:
                tail, tail_count = (chunk if isinstance(chunk, bytes) else json_bytes.dumps(ids)), len(ids)
        return cls(tuple(sealed), tail, tail_count)

    def append(self, report_id: str) -> ReportIds:
        if self._tail_count == CHUNK - 1:
            return ReportIds((*self._sealed, _seal([*_ids_of(self._tail), report_id])))
        item = orjson.dumps(report_id)
        tail = self._tail[:-1] + b"," + item + b"]" if self._tail else b"[" + item + b"]"
        return ReportIds(self._sealed, tail, self._tail_count + 1)

    def chunk(self, n: int) -> bytes:
        """The ``n``-th chunk as the table stores it (this very object)."""
        return self._sealed[n] if n < len(self._sealed) else self._tail

    @property
    def chunk_count(self) -> int:
        return len(self._sealed) + (1 if self._tail_count else 0)

    @property
    def sealed_count(self) -> int:
        """How many chunks are full (sealed); the ids after them are the open chunk."""
        return len(self._sealed)

    def tail_json(self) -> bytes:
        """The open chunk's ids as a JSON array (``[]`` when it has none): this very object."""
        return self._tail or b"[]"

    def since(self, start: int) -> list[str]:
        """The ids from position ``start`` on."""
        first = start // CHUNK
        chunks = [*self._sealed[first:], self._tail] if self._tail_count else list(self._sealed[first:])
        ids = [i for chunk in chunks for i in _ids_of(chunk)]
        return ids[start - first * CHUNK:]

    def __len__(self) -> int:
        return len(self._sealed) * CHUNK + self._tail_count

    def __iter__(self) -> Iterator[str]:
        for chunk in self._sealed:
            yield from _ids_of(chunk)
        if self._tail_count:
            yield from _ids_of(self._tail)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return list(self)[index]
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("report id index out of range")
        return self.since(index - index % CHUNK)[index % CHUNK]

    def __contains__(self, report_id: object) -> bool:
        # The lifecycle asks only for events without an intake origin (add_evidence): the others'
        # redelivery is told by their origin offset. An element of a JSON array is the id's JSON
        # string right after "[" or "," (inside a string a quote is always escaped), so the open
        # chunk is searched, not decoded; it comes first, a redelivery being most likely recent.
        if not isinstance(report_id, str):
            return False
        needle = orjson.dumps(report_id)
        first, later = b"[" + needle, b"," + needle
        for chunk in ((self._tail, *reversed(self._sealed)) if self._tail_count else reversed(self._sealed)):
            raw = chunk if chunk[:1] == _OPEN else zlib.decompress(chunk)
            if first in raw or later in raw:
                return True
        return False

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReportIds):
            return (self._sealed == other._sealed and self._tail == other._tail) or list(self) == list(other)
        if isinstance(other, tuple | list):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ReportIds({list(self)!r})"


NO_REPORTS = ReportIds()
