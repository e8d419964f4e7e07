"""JSON objects built from fuzzer bytes: a valid example whose fields are kept, dropped, replaced
by values of any JSON type, or recursed into. Raw byte mutation alone rarely gets past the JSON
parser to the field checks; this does, while staying coverage-guided (every choice is a byte)."""

from __future__ import annotations

import json
from typing import Any

import orjson

# Values that sit on the edges the decoders check: empty, whitespace, number-like text, times at
# the ends of the calendar, NaN/Infinity, huge numbers, control characters and long text.
EDGE_VALUES: tuple[Any, ...] = (
    "", " ", "\t\n", "NaN", "1e309", "-0", "0x10", "null", "true",
    "2026-06-01T18:00:00+07:00", "2026-06-01T18:00:00", "2026-06-01T18:00:00Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-45T25:61:61Z", "Z",
    float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 2**63, -(2**63), 2**64 + 1, 10**40, 1e11, -1,
    0, 0.0, 1, 1.0000001, 106.7009, 10.7769, 95.0, -200.0,
    "x" * 5001, "\u0000", "\ud7ff", "Phường 7, Quận 3, TP.HCM", "26734", "2673", "267345",
    [], {}, [None], {"": None},
)


def value(fdp: Any, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 9))
    if kind == 3:
        return fdp.ConsumeFloat()
    if kind == 4:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64))
    if kind == 5:
        return EDGE_VALUES[fdp.ConsumeIntInRange(0, len(EDGE_VALUES) - 1)]
    if kind == 6:
        return [value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    names = ("a", "lat", "lon", "name", "phone", "outcome", "summary", "id", "")
    return {names[fdp.ConsumeIntInRange(0, len(names) - 1)]: value(fdp, depth + 1)
            for _ in range(fdp.ConsumeIntInRange(0, 4))}


def mutate(fdp: Any, template: dict[str, Any], extra_names: tuple[str, ...], depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, original in template.items():
        action = fdp.ConsumeIntInRange(0, 4)
        if action == 0 or (action == 3 and not isinstance(original, dict)):
            out[key] = original
        elif action == 1:
            continue
        elif action == 2:
            out[key] = value(fdp, depth)
        elif action == 3:
            out[key] = mutate(fdp, original, extra_names, depth + 1)
        else:
            out[key] = EDGE_VALUES[fdp.ConsumeIntInRange(0, len(EDGE_VALUES) - 1)]
    for _ in range(fdp.ConsumeIntInRange(0, 2)):
        out[extra_names[fdp.ConsumeIntInRange(0, len(extra_names) - 1)]] = value(fdp, depth)
    return out


def dumps(obj: Any, fdp: Any) -> bytes:
    """Either encoder: ``json`` writes NaN/Infinity literals (which the decoders must refuse),
    ``orjson`` writes them as null and refuses integers beyond 64 bits (then ``json`` it is)."""
    if fdp.ConsumeBool():
        try:
            return orjson.dumps(obj)
        except TypeError:
            pass
    return json.dumps(obj, ensure_ascii=fdp.ConsumeBool()).encode("utf-8", "surrogatepass")
