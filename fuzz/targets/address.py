"""Fuzz target: the free-text address parser (:mod:`routers.locate.address`), as the locator
calls it: ``check_address`` (type and length cap), then ``resolve_address``."""

from __future__ import annotations

import atheris

from fuzz.harness import Outcome, main, reason_code
from routers.exceptions import Rejected

with atheris.instrument_imports(include=["routers"]):
    from routers.locate.address import check_address, resolve_address


def check_one(data: bytes) -> Outcome:
    text = data.decode("utf-8", "replace")
    try:
        check_address(text)
    except Rejected as rejection:
        return reason_code(rejection)
    match = resolve_address(text)
    if match is None:
        return "unresolved"
    assert match.codes, match
    assert all(len(code) == 5 and code.isdigit() for code in match.codes), match
    assert list(match.codes) == sorted(match.codes), match
    return f"accepted:{match.kind}"


if __name__ == "__main__":
    main(check_one)

