"""Reading a boundary source: a GeoJSON file (plain or .gz), a folder of them, or an http(s) URL.

Every failure is a :class:`~routers.exceptions.BoundaryError` naming the file (and the JSON
position when the text is not JSON); nothing here interprets geometry (see ``importer``).
"""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import orjson

from routers import limits
from routers.exceptions import BoundaryError
from routers.progress import Progress

MAX_DOWNLOAD_BYTES = limits.BOUNDARY_FILE_BYTES
_SUFFIXES = (".geojson", ".json", ".geojson.gz", ".json.gz")


def _decode(path: Path, raw: bytes) -> Any:
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = limits.gunzip(raw, limits.BOUNDARY_JSON_BYTES, str(path))
        except limits.TooLarge as exc:
            raise BoundaryError(str(exc)) from None
        except (zlib.error, EOFError) as exc:
            raise BoundaryError(f"{path}: broken gzip data ({exc})") from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BoundaryError(f"{path}: not valid JSON: {exc}") from exc


def _features_of(path: Path, document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise BoundaryError(f"{path}: expected a GeoJSON object, found {type(document).__name__}")
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise BoundaryError(f"{path}: FeatureCollection without a 'features' list")
        return features
    if kind == "Feature":
        return [document]
    raise BoundaryError(f"{path}: expected a FeatureCollection or Feature, found type {kind!r}")


def _download(url: str, progress: Progress) -> Path:
    """Fetch ``url`` into a temporary file (the caller deletes it), with a size limit."""
    request = urllib.request.Request(url, headers={"User-Agent": "ioc-router boundaries import"})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except (urllib.error.URLError, ValueError, OSError) as exc:
        raise BoundaryError(f"{url}: download failed: {exc}") from exc
    with (
        response,
        tempfile.NamedTemporaryFile(prefix="ioc-boundaries-", suffix=".geojson", delete=False) as out,
    ):
        total = 0
        while chunk := response.read(1 << 20):
            total += len(chunk)
            if total > MAX_DOWNLOAD_BYTES:
                out.close()
                Path(out.name).unlink(missing_ok=True)
                raise BoundaryError(f"{url}: larger than {MAX_DOWNLOAD_BYTES // (1 << 20)} MB, refused")
            out.write(chunk)
            progress("downloading", len(chunk))
        return Path(out.name)


def _read(path: Path) -> bytes:
    try:
        return limits.read_bytes(path, limits.BOUNDARY_FILE_BYTES, "boundary")
    except limits.TooLarge as exc:
        raise BoundaryError(str(exc)) from None


def read_features(src: str, progress: Progress | None = None) -> list[dict[str, Any]]:
    """All features of ``src``: file (.geojson/.json, optionally gzip'd), folder, or URL."""
    step = progress or (lambda _label, _n: None)
    if src.startswith(("http://", "https://")):
        path = _download(src, step)
        try:
            return _features_of(Path(src), _decode(Path(src), path.read_bytes()))
        finally:
            path.unlink(missing_ok=True)
    path = Path(src).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_SUFFIXES))
        if not files:
            raise BoundaryError(f"{path}: folder holds no .geojson/.json files")
        features: list[dict[str, Any]] = []
        for file in files:
            features.extend(_features_of(file, _decode(file, _read(file))))
            step("reading files", 1)
        return features
    if not path.is_file():
        raise BoundaryError(f"{src}: no such file, folder or URL")
    return _features_of(path, _decode(path, _read(path)))
