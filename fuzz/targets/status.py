"""Fuzz target: the ``ioc.status`` decoder, :func:`streams.lifecycle.contract.parse_status_update`
(JSON Schema contract, then meaning checks). Byte 0 picks raw or structured mode."""

from __future__ import annotations

import atheris

from fuzz.harness import Outcome, main, reason_code
from fuzz.jsonbuild import dumps, mutate
from fuzz.seeds import STATUS_TEMPLATES as TEMPLATES
from routers.exceptions import Rejected

with atheris.instrument_imports(include=["routers", "streams.lifecycle.contract"]):
    from routers.incidents.status import WARD_SETTABLE
    from streams.lifecycle.contract import parse_status_update

NAMES = ("update_id", "incident_id", "ward", "status", "at", "actor", "note", "to_ward", "result", "outcome")


def message(data: bytes) -> bytes:
    if not data or data[0] % 2 == 0:
        return data[1:]
    fdp = atheris.FuzzedDataProvider(data[1:])
    template = TEMPLATES[fdp.ConsumeIntInRange(0, len(TEMPLATES) - 1)]
    return dumps(mutate(fdp, template, NAMES), fdp)


def check_one(data: bytes) -> Outcome:
    try:
        update, _body = parse_status_update(message(data))
    except Rejected as rejection:
        return reason_code(rejection)
    assert len(update.ward) == 5 and update.ward.isdigit(), update
    assert update.status in WARD_SETTABLE, update
    assert update.at is None or update.at.tzinfo is not None, update
    return "accepted"


if __name__ == "__main__":
    main(check_one)

