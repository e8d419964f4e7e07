"""The README's configuration table, generated from :class:`streams.settings.Settings` (defaults)
and :data:`streams.settings.DOCUMENTATION` (meanings), so the two cannot drift::

    python -m streams.settings_doc README.md     # rewrites the table between its markers

``tests/streams/test_settings.py`` fails when the README's table is not what this prints.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from streams.settings import DOCUMENTATION, Settings, _default_data_dir

START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"


def _default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):  # the data directory's default depends on the home it runs in
        home = str(Path.home())
        text = str(value)
        return f"`~{text[len(home):]}`" if text.startswith(home + "/") else f"`{text}`"
    return f"`{value}`"


def settings_table() -> str:
    """The table, markers included, in :data:`DOCUMENTATION` order."""
    base = Settings(data_dir=_default_data_dir({}))  # the default without this shell's XDG_DATA_HOME
    defaults = {f.name: getattr(base, f.name) for f in fields(Settings)}
    rows = [f"| `IOC_{name.upper()}` | {_default(defaults[name])} | {meaning} |"
            for name, meaning in DOCUMENTATION.items()]
    return "\n".join([START, "| variable | default | meaning |", "|---|---|---|", *rows, END])


def replace_table(text: str) -> str:
    """``text`` (the README) with its table between the markers replaced by :func:`settings_table`."""
    start, end = text.index(START), text.index(END) + len(END)
    return text[:start] + settings_table() + text[end:]


def readme_table(text: str) -> str:
    """The table as it stands in ``text``, markers included."""
    return text[text.index(START):text.index(END) + len(END)]


def main(argv: list[str]) -> None:
    readme = Path(argv[0]) if argv else Path("README.md")
    readme.write_text(replace_table(readme.read_text("utf-8")), "utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
