"""Table writes of a batch, staged and sent with the batch's outputs.

A Faust table write sends its changelog record on its own, through Faust's buffered ``send_soon``
(a future per record, and the record is not part of the batch whose offsets it moves). The lifecycle
writes several records per input (the incident, its redelivery mark, the ward's book), and an
incident touched twice in a batch was written twice. :class:`StagedTable` keeps a batch's writes
in a plain dict that reads see first; :meth:`StagedTable.flush` applies them to the table's store
and returns one changelog record per key (the last value, or a tombstone), serialized exactly as
Faust's own ``send_changelog`` would (the table's key and value serializers; a value the store holds
decoded, an incident, is encoded to its JSON first), addressed to the
partition of the inputs being applied. The agent publishes them with the batch's outputs, so the
changelog, like every other output, is acknowledged by the broker before the batch's offsets
can be committed. Recovery (a restart, a standby taking over) reads the changelog as always.

Relies on Faust 0.11's ``Table.data`` (the store) and ``changelog_topic.prepare_key/prepare_value``
(checked by ``tests/streams/lifecycle/test_staged.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from faust.serializers.codecs import get_codec

from routers.json_bytes import trimmed
from streams.delivery import Outgoing

_DELETED = object()


class StagedTable(MutableMapping[str, Any]):
    """A table's mapping view whose writes wait for :meth:`flush` (see the module docstring)."""

    def __init__(self, table: Any, encode: Callable[[Any], Any] | None = None) -> None:
        self.table = table
        self._staged: dict[str, Any] = {}
        # a value as its changelog record carries it (the store may hold it decoded); settable, as
        # the encoder may belong to what is built over the table (the incident book)
        self.encode: Callable[[Any], Any] = encode or (lambda value: value)

    @property
    def _store(self) -> Any:
        return self.table.data

    def __getitem__(self, key: str) -> Any:
        value = self._staged.get(key, _DELETED) if self._staged else _DELETED
        if value is _DELETED:
            if key in self._staged:
                raise KeyError(key)
            return self._store[key]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._staged:
            value = self._staged[key]
            return default if value is _DELETED else value
        return self._store.get(key, default)

    def __contains__(self, key: object) -> bool:
        if key in self._staged:
            return self._staged[key] is not _DELETED  # type: ignore[index]
        return key in self._store

    def __setitem__(self, key: str, value: Any) -> None:
        self._staged[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._staged[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        staged = self._staged
        for key in list(self._store.keys()):
            if key not in staged:
                yield key
        for key, value in list(staged.items()):
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def flush(self, partition: int) -> list[Outgoing]:
        """Apply the staged writes to the store; their changelog records for ``partition``."""
        if not self._staged:
            return []
        table, store = self.table, self.table.data
        topic = table.changelog_topic
        name = topic.get_topic_name()
        dump_key = _dumps(table.key_serializer, lambda k: topic.prepare_key(k, table.key_serializer)[0])
        dump_value = _dumps(table.value_serializer, lambda v: topic.prepare_value(v, table.value_serializer)[0])
        records: list[Outgoing] = []
        for key, value in self._staged.items():
            raw_key = dump_key(key)
            if value is _DELETED:
                store.pop(key, None)
                records.append(Outgoing(name, raw_key, None, partition=partition))
            else:
                store[key] = value
                records.append(Outgoing(name, raw_key, dump_value(self.encode(value)), partition=partition))
        self._staged.clear()
        return records

    def discard(self) -> None:
        """Forget the staged writes (the decision that made them failed)."""
        self._staged.clear()


def _dumps(serializer: Any, prepare: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """How a record's key or value is serialized: for the ``json`` serializer, Faust's json codec
    itself (what ``prepare_key``/``prepare_value`` end up calling for the plain strings, numbers,
    lists and dicts the lifecycle's tables hold, without the schema and registry lookups per
    record: ~4 % of the lifecycle's CPU), its bytes trimmed (the codec is orjson's, whose results
    keep their output buffer: :mod:`routers.json_bytes`); for any other serializer, ``prepare``."""
    if serializer != "json":
        return prepare
    codec_dumps = get_codec("json").dumps
    return lambda value: trimmed(codec_dumps(value))
