"""Rule regexes in RE2's dialect: linear-time matching of untrusted citizen text.

A rules file's ``*_regex`` matchers run on free text anyone can send (descriptions, addresses).
Python's ``re`` backtracks: ``(a+)+$`` against a crafted 50 kB description could hold a worker for
hours. RE2 (the ``google-re2`` package, as Alertmanager uses Go's RE2-based ``regexp``) matches in
time linear in the text, and refuses at compile time what it cannot do that way: backreferences,
lookaround, atomic groups and possessive repetition. Those refusals surface as a load-time problem
with the rules file's line:column, like every other rule error.

RE2 differs from Python's ``re`` in ways that would silently change what a rule matches on
Vietnamese text, so :func:`compile_rule_regex` rewrites or refuses them before RE2 sees the pattern:

- ``\\w \\W \\d \\D \\s \\S`` are ASCII-only in RE2; they are rewritten to Unicode classes (``\\w``
  = letters, combining marks, digits and ``_``, so ``\\w+`` matches ``nổ``; ``\\s`` = Python's
  whitespace set, including the no-break space U+00A0);
- ``\\b``/``\\B`` are ASCII-only in RE2 and cannot be rewritten without lookaround: ``\\bnổ\\b``
  would never match "tiếng nổ lớn", so they are refused with the anchored alternative;
- ``{,n}`` means 0..n to Python but a literal ``{,n}`` to RE2: refused, write ``{0,n}``;
- ``\\Z`` (Python's end of text) is written ``\\z`` for RE2; ``\\uhhhh``/``\\Uhhhhhhhh`` become
  ``\\x{...}``.

Text and pattern are both compared in Unicode NFC (precomposed) form, so a description typed with
combining accents (``o`` + U+0302 + U+0309) matches a rule written with ``ổ``. Case-insensitive
matching is RE2's inline ``(?i)`` flag, which folds Unicode case (``CHÁY`` matches ``(?i)cháy``).

    >>> rule = compile_rule_regex(r"(?i)(?:.*\\W)?(cháy|nổ)(?:\\W.*)?")
    >>> rule.fullmatch("Tiếng NỔ lớn ở chợ")
    True
"""

from __future__ import annotations

import unicodedata
from typing import Any

import re2

# Python's ``str`` semantics, spelled with RE2's Unicode classes (bodies, usable inside [...]).
_WORD = r"\p{L}\p{M}\p{N}_"
_DIGIT = r"\p{Nd}"
_SPACE = r"\t-\r\x{1c}-\x{1f}\x{85}\p{Z}"  # exactly str.isspace()
_INSIDE_CLASS = {"w": _WORD, "d": _DIGIT, "s": _SPACE, "D": r"\P{Nd}"}
_OUTSIDE_CLASS = {
    "w": f"[{_WORD}]", "W": f"[^{_WORD}]", "d": _DIGIT, "D": r"\P{Nd}", "s": f"[{_SPACE}]", "S": f"[^{_SPACE}]",
}
_HEX = frozenset("0123456789abcdefABCDEF")

# RE2's own compile errors, said in the rule author's terms (matched on RE2's message prefix).
_RE2_REFUSALS = (
    ("invalid perl operator: (?=", "lookahead (?=...) is not supported"),
    ("invalid perl operator: (?!", "lookahead (?!...) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...) is not supported"),
    ("invalid perl operator: (?<!", "lookbehind (?<!...) is not supported"),
    ("invalid perl operator: (?>", "atomic groups (?>...) are not supported"),
    ("invalid perl operator: (?#", "comments (?#...) are not supported"),
    ("invalid perl operator: (?(", "conditionals (?(...)...) are not supported"),
    ("invalid perl operator: (?x", "the verbose flag (?x) is not supported"),
    ("invalid perl operator: (?a", "the ASCII flag (?a) is not supported"),
    ("bad repetition operator: ++", "possessive repetition (++, *+, ?+) is not supported"),
    ("bad repetition operator: *+", "possessive repetition (++, *+, ?+) is not supported"),
    ("bad repetition operator: ?+", "possessive repetition (++, *+, ?+) is not supported"),
    ("invalid repetition size", "a repetition count is above RE2's limit of 1000"),
    ("pattern too large", "the compiled pattern is larger than RE2's memory budget"),
)
_BACKREFERENCE = "invalid escape sequence: \\"


class RegexRefused(ValueError):
    """A rule regex RE2 cannot run in linear time, or whose meaning would silently change."""


class RuleRegex:
    """A compiled rule regex: :meth:`fullmatch` is anchored at both ends, like Alertmanager's ``=~``.

    ``source`` is the pattern as the rules file wrote it (the explain trace shows it);
    ``translated`` is what RE2 compiled, as UTF-8 bytes: the wrapper's ``str`` path maps byte
    offsets back to character offsets on every call, which a yes/no answer does not need, and
    RE2 runs the same UTF-8 program on the same bytes either way.
    """

    __slots__ = ("source", "translated", "_compiled")

    def __init__(self, source: str, translated: str, compiled: Any) -> None:
        self.source = source
        self.translated = translated
        self._compiled = compiled

    def fullmatch(self, text: str) -> bool:
        if not text.isascii() and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return self._compiled.fullmatch(text.encode("utf-8")) is not None

    def __repr__(self) -> str:
        return f"RuleRegex({self.source!r})"


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is reported once, as a rules problem, not on stderr
    options.never_capture = True  # rules only ask "does it match": no submatch bookkeeping
    return options


def _repetition_without_minimum(pattern: str, at: int) -> int:
    """Length of a Python ``{,n}`` repetition starting at ``at`` (0 when there is none)."""
    end = pattern.find("}", at)
    if end < 0 or pattern[at + 1] != ",":
        return 0
    digits = pattern[at + 2:end]
    return end - at + 1 if digits.isdigit() else 0


def _codepoint_escape(pattern: str, at: int) -> tuple[str, int]:
    r"""``\uhhhh`` or ``\Uhhhhhhhh`` at ``at`` -> (``\x{...}``, length consumed)."""
    width = 4 if pattern[at + 1] == "u" else 8
    digits = pattern[at + 2:at + 2 + width]
    if len(digits) != width or not set(digits) <= _HEX:
        raise RegexRefused(f"incomplete escape {pattern[at:at + 2 + width]!r} at offset {at}: "
                           f"\\{pattern[at + 1]} needs {width} hex digits")
    return f"\\x{{{digits}}}", 2 + width


def translate(pattern: str) -> str:
    r"""Rewrite Python-isms whose RE2 meaning differs (see the module docstring); refuse the rest.

    >>> translate(r"\w+\s\d")
    '[\\p{L}\\p{M}\\p{N}_]+[\\t-\\r\\x{1c}-\\x{1f}\\x{85}\\p{Z}]\\p{Nd}'
    """
    out: list[str] = []
    in_class = False
    at, end = 0, len(pattern)
    while at < end:
        char = pattern[at]
        if char == "\\" and at + 1 < end:
            escaped = pattern[at + 1]
            if escaped == "Q":  # RE2's literal run \Q...\E: copied as it is, nothing inside is special
                close = pattern.find("\\E", at + 2)
                stop = end if close < 0 else close + 2
                out.append(pattern[at:stop])
                at = stop
                continue
            if escaped in "bB":
                raise RegexRefused(
                    f"\\{escaped} at offset {at} is not supported: RE2's word boundary only knows ASCII letters, "
                    "so it never sees one next to a Vietnamese letter such as 'ổ'; the whole value is matched, "
                    "so write the word with its surroundings instead, e.g. (?:.*\\W)?(cháy|nổ)(?:\\W.*)?")
            if escaped in "WS" and in_class:
                raise RegexRefused(f"\\{escaped} inside [...] at offset {at} has no Unicode equivalent in RE2: "
                                   f"write a negated class such as [^\\{escaped.lower()}...] instead")
            if escaped in _OUTSIDE_CLASS:
                out.append(_INSIDE_CLASS[escaped] if in_class else _OUTSIDE_CLASS[escaped])
            elif escaped == "Z":
                out.append("\\z")
            elif escaped in "uU":
                text, used = _codepoint_escape(pattern, at)
                out.append(text)
                at += used
                continue
            else:
                out.append(pattern[at:at + 2])
            at += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif char == "[" and pattern.startswith("[:", at):  # a POSIX class such as [:alpha:]
                close = pattern.find(":]", at + 2)
                if close >= 0:
                    out.append(pattern[at:close + 2])
                    at = close + 2
                    continue
            out.append(char)
            at += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            at += 1
            # a ']' first in the class (after an optional '^') is a literal, not the end
            if pattern.startswith("^", at):
                out.append("^")
                at += 1
            if pattern.startswith("]", at):
                out.append("\\]")
                at += 1
            continue
        if char == "{":
            length = _repetition_without_minimum(pattern, at) if at + 1 < end else 0
            if length:
                shown = pattern[at:at + length]
                raise RegexRefused(f"{shown} at offset {at} means 0 to n repetitions in Python but a literal "
                                   f"text in RE2: write {{0{shown[1:]} instead")
        out.append(char)
        at += 1
    return "".join(out)


def _explain(error: str, pattern: str) -> str:
    reason = next((reason for needle, reason in _RE2_REFUSALS if error.startswith(needle)), None)
    if error.startswith(_BACKREFERENCE) and error[len(_BACKREFERENCE):][:1].isdigit():
        reason = "backreferences (\\1...\\9) are not supported"
    elif error.startswith("invalid perl operator: (?P") and "(?P=" in pattern:
        reason = "backreferences (?P=name) are not supported"
    return f"{reason} (rule regexes use RE2's linear-time dialect): {error}" if reason else error


def compile_rule_regex(pattern: str) -> RuleRegex:
    """Compile a rule's pattern for RE2, or raise :class:`RegexRefused` saying why."""
    normalized = unicodedata.normalize("NFC", pattern)
    translated = translate(normalized)
    try:
        compiled = re2.compile(translated.encode("utf-8"), _options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        message = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise RegexRefused(_explain(message, translated)) from None
    return RuleRegex(pattern, translated, compiled)


class RegexSet:
    """Several rule regexes tested against one text in one RE2 pass (``RE2::Set``, anchored at both
    ends like :meth:`RuleRegex.fullmatch`): ``matching(text)`` gives the indices of those that match.
    Used to look up silences that only have a regex: one pass per event instead of one per silence."""

    __slots__ = ("_set", "size")

    def __init__(self, patterns: list[RuleRegex]) -> None:
        self._set = re2.Set.FullMatchSet(_options())
        for pattern in patterns:
            self._set.Add(pattern.translated.encode("utf-8"))
        self._set.Compile()
        self.size = len(patterns)

    def matching(self, text: str) -> list[int]:
        if not text.isascii() and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return self._set.Match(text.encode("utf-8")) or []
