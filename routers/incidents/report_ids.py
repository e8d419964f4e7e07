"""Every citizen report id of an incident, in order, in little memory.

An open incident gathers report ids for as long as it stays open (each gets a result when it is
resolved), so they are most of what a worker keeps per report: as a tuple of ``str`` ~90 bytes an
id, and in a real-time soak nothing resolves for the first ten minutes, so every report of the run
stays (docs/lifecycle.md, "Memory"). Here the ids live in chunks of :data:`CHUNK`: each full chunk
is sealed into one zlib-compressed ``bytes`` object (ids from one source share most of their
characters: ~6 bytes an id for the 1022 portal's), the chunk being filled is a plain tuple of
``str``. Appending, what every report folded in does, only extends that tuple (sealing once per
:data:`CHUNK`); reading sealed ids back is for the rare moments that need them all (a status
change names every report, a resolve sends each a result).

The ``lifecycle-reports`` table stores the same chunks: a sealed chunk is the very ``bytes``
object (shared), the one being filled its list of ids. The changelog carries every chunk as its
list of ids (:func:`chunk_ids` is the table's encoder), and a restored list is sealed again.

Invariant kept: iterating gives the ids in the order they were added; equality and hashing follow
that order (a tuple or list of the same ids compares equal).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import orjson

CHUNK = 64


def _seal(ids: Sequence[str]) -> bytes:
    return zlib.compress(orjson.dumps(list(ids)), 6)


def _unseal(chunk: bytes) -> list[str]:
    ids: list[str] = orjson.loads(zlib.decompress(chunk))
    return ids


def chunk_ids(value: Any) -> list[str]:
    """The ids of a table's chunk: a sealed one (``bytes``) or the list of the one being filled
    (or of any chunk a changelog record restored)."""
    if isinstance(value, bytes):
        return _unseal(value)
    return [i for i in value or () if isinstance(i, str)]


class ReportIds(Sequence[str]):
    """An immutable, ordered sequence of report ids: sealed full chunks, then the open tail."""

    __slots__ = ("_sealed", "_tail")

    def __init__(self, sealed: tuple[bytes, ...] = (), tail: tuple[str, ...] = ()) -> None:
        self._sealed = sealed
        self._tail = tail

    @classmethod
    def of(cls, ids: Iterable[str]) -> ReportIds:
        listed = list(ids)
        full = len(listed) - len(listed) % CHUNK
        return cls(tuple(_seal(listed[n:n + CHUNK]) for n in range(0, full, CHUNK)), tuple(listed[full:]))

    @classmethod
    def from_chunks(cls, chunks: Iterable[Any]) -> ReportIds:
        """From a table's chunks in order (sealed bytes or lists): every one full but the last."""
        sealed: list[bytes] = []
        tail: tuple[str, ...] = ()
        for chunk in chunks:
            if isinstance(chunk, bytes):
                sealed.append(chunk)
                continue
            ids = chunk_ids(chunk)
            if len(ids) == CHUNK:
                sealed.append(_seal(ids))
            else:
                tail = tuple(ids)
        return cls(tuple(sealed), tail)

    def append(self, report_id: str) -> ReportIds:
        if len(self._tail) == CHUNK - 1:
            return ReportIds((*self._sealed, _seal((*self._tail, report_id))))
        return ReportIds(self._sealed, (*self._tail, report_id))

    def chunk(self, n: int) -> bytes | list[str]:
        """The ``n``-th chunk as the table stores it: the sealed object itself, or the tail's ids."""
        return self._sealed[n] if n < len(self._sealed) else list(self._tail)

    @property
    def chunk_count(self) -> int:
        return len(self._sealed) + (1 if self._tail else 0)

    def since(self, start: int) -> list[str]:
        """The ids from position ``start`` on (those a change added): from the tail alone unless
        ``start`` lies in a sealed chunk."""
        sealed = len(self._sealed) * CHUNK
        if start >= sealed:
            return list(self._tail[start - sealed:])
        first = start // CHUNK
        ids = [i for chunk in self._sealed[first:] for i in _unseal(chunk)]
        return ids[start - first * CHUNK:] + list(self._tail)

    def __len__(self) -> int:
        return len(self._sealed) * CHUNK + len(self._tail)

    def __iter__(self) -> Iterator[str]:
        for chunk in self._sealed:
            yield from _unseal(chunk)
        yield from self._tail

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
        sealed = len(self._sealed) * CHUNK
        return self._tail[index - sealed] if index >= sealed else _unseal(self._sealed[index // CHUNK])[index % CHUNK]

    def __contains__(self, report_id: object) -> bool:
        # The tail first: a redelivery is most likely of a recent report. The lifecycle asks only
        # for events without an intake origin (routers.incidents.lifecycle.add_evidence): the
        # others' redelivery is told by their origin offset, so sealed chunks are rarely opened.
        return report_id in self._tail or any(report_id in _unseal(chunk) for chunk in reversed(self._sealed))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReportIds):
            return self._sealed == other._sealed and self._tail == other._tail or list(self) == list(other)
        if isinstance(other, tuple | list):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ReportIds({list(self)!r})"


NO_REPORTS = ReportIds()
