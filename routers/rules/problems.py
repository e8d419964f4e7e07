"""How a refused rules file is reported: every problem with its line and column."""

from __future__ import annotations

from dataclasses import dataclass

from routers.exceptions import RulesError


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based
    column: int  # 1-based
    message: str

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}


class RulesFileError(RulesError):
    """A refused rules file; ``problems`` lists each one (``str()`` is one ``source:line:col: msg`` a line)."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}:{p.line}:{p.column}: {p.message}" for p in problems))
