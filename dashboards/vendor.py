"""Front-end libraries from the npm registry, installed by ``make setup`` (``npm ci`` with the
committed ``package.json`` and ``package-lock.json``) and served by the dashboard itself: the page
loads nothing from a CDN.

``IOC_DASHBOARD_NODE_MODULES`` (``Settings.dashboard_node_modules``) points at another
``node_modules`` (a container image); default: the one next to the repository's ``package.json``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from streams.settings import Settings

REPO = Path(__file__).resolve().parents[1]
# URL prefix -> the package's folder of built files
LIBRARIES = {"leaflet": Path("leaflet") / "dist"}


def node_modules(settings: Settings) -> Path:
    return settings.dashboard_node_modules or REPO / "node_modules"


def missing(root: Path) -> list[str]:
    return [name for name, sub in LIBRARIES.items() if not (root / sub).is_dir()]


def register(app: web.Application, root: Path) -> None:
    """Serve each library under ``/vendor/<name>/`` from ``root`` (:func:`node_modules`); a missing
    one answers 503 saying how to install it."""
    for name, sub in LIBRARIES.items():
        folder = root / sub
        if folder.is_dir():
            app.router.add_static(f"/vendor/{name}", folder, append_version=False)
        else:
            async def absent(request: web.Request, name: str = name, folder: Path = folder) -> web.Response:
                return web.Response(status=503, content_type="text/plain",
                                    text=f"{name} is not installed at {folder}: run `make setup` (npm ci)")

            app.router.add_get(f"/vendor/{name}/{{tail:.*}}", absent)
