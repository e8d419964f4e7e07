"""Size caps for files that come from outside (CLI imports, the worker's rules file).

A file is checked before it is read (``stat``) and read with a hard limit anyway (it may grow, or
be a pipe); gzip data is decompressed with a cap on the *output*, so a small "gzip bomb" cannot
expand into gigabytes. Each cap is far above any real file of that kind:

==================  ==========  =====================================================
what                cap         a real one
==================  ==========  =====================================================
boundary file       512 MiB     vn2025-all-simplified.geojson.gz is 5 MB
boundary JSON       2 GiB       (decompressed) official full-resolution national set
rules YAML          4 MiB       the default ruleset is ~10 KB
rules cases YAML    16 MiB      a few hundred cases
event JSON          1 MiB       an intake message is capped at 256 KiB on the wire
devices CSV         64 MiB      ~100 bytes a device: over half a million devices
==================  ==========  =====================================================
"""

from __future__ import annotations

import zlib
from pathlib import Path

MiB = 1 << 20

BOUNDARY_FILE_BYTES = 512 * MiB
BOUNDARY_JSON_BYTES = 2048 * MiB
RULES_FILE_BYTES = 4 * MiB
CASES_FILE_BYTES = 16 * MiB
EVENT_FILE_BYTES = 1 * MiB
DEVICES_FILE_BYTES = 64 * MiB


class TooLarge(ValueError):
    """A file (or its decompressed content) is over its cap; the message names the file and the cap."""


def _human(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def check_size(path: Path, limit: int, what: str) -> None:
    size = path.stat().st_size
    if size > limit:
        raise TooLarge(f"{path}: {_human(size)} is over the {_human(limit)} cap for {what} files")


def read_bytes(path: Path, limit: int, what: str) -> bytes:
    """The file's bytes, refusing (without reading it all) anything over ``limit``."""
    path = Path(path)
    if path.is_file():
        check_size(path, limit, what)
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{path}: more than the {_human(limit)} cap for {what} files")
    return data


def read_text(path: Path, limit: int, what: str) -> str:
    return read_bytes(path, limit, what).decode("utf-8")


def gunzip(raw: bytes, limit: int, where: str) -> bytes:
    """Decompress gzip data (all members) producing at most ``limit`` bytes.

    Raises :class:`TooLarge` past the cap and ``zlib.error``/``EOFError`` for broken data.
    """
    out: list[bytes] = []
    total = 0
    rest = raw
    while rest:
        stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        chunk = stream.decompress(rest, limit - total + 1)
        total += len(chunk)
        if total > limit or stream.unconsumed_tail:
            raise TooLarge(f"{where}: decompresses to more than the {_human(limit)} cap")
        out.append(chunk)
        if not stream.eof:
            raise EOFError(f"{where}: the gzip stream ends early")
        rest = stream.unused_data
    return b"".join(out)
