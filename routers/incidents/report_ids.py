"""Every citizen report id of an incident, in order, in little memory.

An open incident gathers report ids for as long as it stays open (each gets a result when it is
resolved), so they are what a worker keeps per report that it never lets go of before then: as a
tuple of ``str`` ~87 bytes an id, and the chunk table's list of them 8 more. Here they live in
chunks of :data:`CHUNK` ids, each one ``bytes`` object: the full
chunks zlib-compressed (ids from one source share most of their characters), the last one as its
JSON array. The chunk objects are what the ``lifecycle-reports`` table stores too, so the table and
the incident share them instead of each holding the ids.

Invariant kept: iterating gives the ids in the order they were added; equality and hashing follow
that order (a tuple or list of the same ids compares equal).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import orjson

CHUNK = 64
_SEALED = b"z"  # a compressed chunk starts with this; a JSON array starts with "["


def _ids_of(chunk: bytes) -> list[str]:
    raw = zlib.decompress(chunk[1:]) if chunk[:1] == _SEALED else chunk
    ids: list[str] = orjson.loads(raw)
    return ids


def _seal(ids: list[str]) -> bytes:
    return _SEALED + zlib.compress(orjson.dumps(ids), 6)


def chunk_bytes(value: Any) -> bytes:
    """A chunk as :class:`ReportIds` keeps it, from what a table holds: its bytes, or the list of
    ids a changelog record carries (a chunk restored after a restart)."""
    if isinstance(value, bytes):
        return value
    ids = [i for i in value or () if isinstance(i, str)]
    return _seal(ids) if len(ids) == CHUNK else orjson.dumps(ids)


def chunk_ids(value: Any) -> list[str]:
    """The ids of a chunk, whether the table holds its bytes or the changelog's list."""
    return _ids_of(value) if isinstance(value, bytes) else [i for i in value or () if isinstance(i, str)]


class ReportIds(Sequence[str]):
    """An immutable, ordered sequence of report ids in chunks of :data:`CHUNK`."""

    __slots__ = ("_chunks", "_count")

    def __init__(self, chunks: tuple[bytes, ...] = (), count: int = 0) -> None:
        self._chunks = chunks
        self._count = count

    @classmethod
    def of(cls, ids: Iterable[str]) -> ReportIds:
        listed = list(ids)
        chunks = [listed[n:n + CHUNK] for n in range(0, len(listed), CHUNK)]
        return cls(tuple(_seal(c) if len(c) == CHUNK else orjson.dumps(c) for c in chunks), len(listed))

    @classmethod
    def from_chunks(cls, chunks: Iterable[Any]) -> ReportIds:
        """From a table's chunks in order (bytes or lists): every one full but the last."""
        kept = tuple(chunk_bytes(c) for c in chunks)
        count = CHUNK * (len(kept) - 1) + len(_ids_of(kept[-1])) if kept else 0
        return cls(kept, count)

    def append(self, report_id: str) -> ReportIds:
        if self._count % CHUNK == 0:
            return ReportIds((*self._chunks, orjson.dumps([report_id])), self._count + 1)
        last = _ids_of(self._chunks[-1])
        last.append(report_id)
        chunk = _seal(last) if len(last) == CHUNK else orjson.dumps(last)
        return ReportIds((*self._chunks[:-1], chunk), self._count + 1)

    def chunk(self, n: int) -> bytes:
        """The ``n``-th chunk as stored (the table holds this very object)."""
        return self._chunks[n]

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    def since(self, start: int) -> list[str]:
        """The ids from position ``start`` on (those a change added), reading only their chunks."""
        if start >= self._count:
            return []
        first = start // CHUNK
        ids = [i for c in self._chunks[first:] for i in _ids_of(c)]
        return ids[start - first * CHUNK:]

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            yield from _ids_of(chunk)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("report id index out of range")
        return _ids_of(self._chunks[index // CHUNK])[index % CHUNK]

    def __contains__(self, report_id: object) -> bool:
        # Looked up for every event folded in (a redelivery check), so the JSON of each chunk is
        # searched, not decoded: an element is the id's JSON string right after "[" or "," (inside
        # a JSON string a quote is always escaped, so neither pair occurs there).
        if not isinstance(report_id, str):
            return False
        needle = orjson.dumps(report_id)
        first, later = b"[" + needle, b"," + needle
        for chunk in reversed(self._chunks):  # a redelivery is most likely of a recent report
            raw = zlib.decompress(chunk[1:]) if chunk[:1] == _SEALED else chunk
            if first in raw or later in raw:
                return True
        return False

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReportIds):
            return self._count == other._count and list(self) == list(other)
        if isinstance(other, tuple | list):
            return list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ReportIds({list(self)!r})"


NO_REPORTS = ReportIds()
