"""Rule regexes are RE2 (linear time): catastrophic patterns finish, refused constructs name
line:column, and Vietnamese text matches the way a rule author expects."""

from __future__ import annotations

import re
import sys
import textwrap
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routers.rules import RulesFileError, default_ruleset, evaluate, load_ruleset
from routers.rules.regex import RegexRefused, compile_rule_regex, translate
from tests.routers.rules.rules_helpers import at_ward, report

RULES = """\
version: "t1"
agencies: [fire]
route:
  id: root
  targets: [ward]
  priority: P4
  sla: {acknowledge: 1h, resolve: 1d}
  routes:
    - id: words
      match: {description_regex: PATTERN}
      targets: [ward, agency:fire]
      priority: P1
"""
N = 50_000


def ruleset_with(pattern: str):
    # single-quoted YAML: backslashes are literal, a quote is doubled
    return load_ruleset(RULES.replace("PATTERN", "'" + pattern.replace("'", "''") + "'"), "r.yaml")


def matched(ruleset, description: str | None) -> bool:
    return evaluate(ruleset, report("waste", description=description), at_ward()).matched == ("words",)


# --- catastrophic patterns complete (correctness asserted; timing belongs to a benchmark) -------------

CATASTROPHIC = [
    # (pattern, crafted text that backtracks forever in Python's re, expected, a text that matches)
    ("(a+)+$", "a" * N + "!", False, "a" * N),
    ("(a|aa)+", "a" * N + "b", False, "a" * N),
    ("(x+x+)+y", "x" * N, False, "x" * N + "y"),
    ("(.*a){12}", "a" * 11 + "b" * N, False, "a" * 12 + "b" * N + "a"),
    ("(?i)(\\w+\\s?)*!", "nổ " * (N // 3) + "?", False, "nổ " * (N // 3) + "!"),
]


@pytest.mark.parametrize(("pattern", "crafted", "expected", "matching"), CATASTROPHIC, ids=[c[0] for c in CATASTROPHIC])
def test_catastrophic_pattern_on_a_50kB_crafted_description_completes(pattern: str, crafted: str, expected: bool,
                                                                      matching: str) -> None:
    ruleset = ruleset_with(pattern)
    assert len(crafted.encode("utf-8")) >= N  # 50 kB of UTF-8
    assert matched(ruleset, crafted) is expected
    assert matched(ruleset, matching) is True


def test_the_matcher_runs_on_re2_not_python_re() -> None:
    """Proof the engine changed: this pattern is linear in RE2 only (Python's re needs 2^n steps here)."""
    regex = compile_rule_regex("(a+)+$")
    assert type(regex._compiled).__module__ == "re2"
    assert regex.fullmatch("a" * N + "!") is False


# --- refused patterns: the rules file's line:column and a reason -------------------------------------

REFUSED = [
    ("backreference", r"(cháy)\1", r"backreferences (\1...\9) are not supported (rule regexes use RE2's "
                                   r"linear-time dialect): invalid escape sequence: \1"),
    ("named backreference", r"(?P<w>a)(?P=w)", "backreferences (?P=name) are not supported (rule regexes use "
                                               "RE2's linear-time dialect): invalid perl operator: (?P"),
    ("lookahead", "(?=.*cháy).*", "lookahead (?=...) is not supported (rule regexes use RE2's linear-time "
                                 "dialect): invalid perl operator: (?="),
    ("negative lookahead", "(?!spam).*", "lookahead (?!...) is not supported (rule regexes use RE2's linear-time "
                                         "dialect): invalid perl operator: (?!"),
    ("lookbehind", "(?<=a)b", "lookbehind (?<=...) is not supported (rule regexes use RE2's linear-time dialect): "
                              "invalid perl operator: (?<="),
    ("negative lookbehind", "(?<!a)b", "lookbehind (?<!...) is not supported (rule regexes use RE2's linear-time "
                                       "dialect): invalid perl operator: (?<!"),
    ("atomic group", "(?>a+)b", "atomic groups (?>...) are not supported (rule regexes use RE2's linear-time "
                                "dialect): invalid perl operator: (?>"),
    ("possessive", "a++b", "possessive repetition (++, *+, ?+) is not supported (rule regexes use RE2's "
                           "linear-time dialect): bad repetition operator: ++"),
    ("verbose flag", "(?x) a b", "the verbose flag (?x) is not supported (rule regexes use RE2's linear-time "
                                 "dialect): invalid perl operator: (?x"),
    ("repetition above 1000", "a{1001}", "a repetition count is above RE2's limit of 1000 (rule regexes use RE2's "
                                         "linear-time dialect): invalid repetition size: {1001}"),
    ("ascii word boundary", r".*\bnổ\b.*", r"\b at offset 2 is not supported: RE2's word boundary only knows ASCII "
                                           "letters, so it never sees one next to a Vietnamese letter such as 'ổ'; "
                                           "the whole value is matched, so write the word with its surroundings "
                                           r"instead, e.g. (?:.*\W)?(cháy|nổ)(?:\W.*)?"),
    ("no minimum repetition", "a{,3}", "{,3} at offset 1 means 0 to n repetitions in Python but a literal text in "
                                       "RE2: write {0,3} instead"),
    ("negated class inside a class", r"[\W\d]", r"\W inside [...] at offset 1 has no Unicode equivalent in RE2: "
                                                r"write a negated class such as [^\w...] instead"),
    ("short unicode escape", r"\u1ec", r"incomplete escape '\\u1ec' at offset 0: \u needs 4 hex digits"),
    ("syntax error", "(cháy", "missing ): (cháy"),
]


@pytest.mark.parametrize(("name", "pattern", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_pattern_names_line_column_and_why(name: str, pattern: str, reason: str) -> None:
    with pytest.raises(RulesFileError) as caught:
        ruleset_with(pattern)
    column = RULES.splitlines()[9].index("PATTERN") + 1
    assert str(caught.value) == (f"r.yaml:10:{column}: route.routes[0].match.description_regex: "
                                 f"bad regex {pattern!r}: {reason}")


def test_every_refusal_is_listed_not_only_the_first() -> None:
    text = textwrap.dedent(RULES).replace("description_regex: PATTERN", r"description_regex: '(a)\1', "
                                                                        "address_not_regex: '(?=x)'")
    with pytest.raises(RulesFileError) as caught:
        load_ruleset(text, "r.yaml")
    assert [(p.line, p.column) for p in caught.value.problems] == [(10, 34), (10, 62)]


# --- Unicode behaviour on Vietnamese text -----------------------------------------------------------

UNICODE_CASES = [
    # (pattern, text, expected)
    ("(?i).*cháy.*", "ĐÁM CHÁY LỚN", True),  # case folding beyond ASCII
    ("(?i)đường.*", "ĐƯỜNG Nguyễn Huệ", True),
    ("cháy", "CHÁY", False),  # case-sensitive unless (?i)
    (".*nổ.*", unicodedata.normalize("NFD", "tiếng nổ lớn"), True),  # combining accents typed in
    (unicodedata.normalize("NFD", ".*nổ.*"), "tiếng nổ lớn", True),  # and in the rules file
    (r"\w+", "Nguyễn", True),  # \w is Unicode, as in Python
    (r"\w+", "nổ!", False),
    (r"\d+", "٣٤", True),  # Unicode decimal digits, as in Python
    (r"Quận\s1", "Quận\u00a01", True),  # the no-break space copied from web pages is whitespace
    (r"[\w-]+", "Bà-Rịa", True),
    (r"[^\w]+", "ổ", False),
    (r"\W", "ệ", False),
    (r"\D", "ệ", True),
    (r"[\s\d]+", "1 2\u20033", True),
    ("...", "nổi", True),  # '.' is one character, not one UTF-8 byte
    ("(?s)a.b", "a\nb", True),
    ("a.b", "a\nb", False),
    ("\\x{1ed5}", "ổ", True),
    ("\\u1ed5", "ổ", True),
    ("phường\\Z", "phường", True),
    ("\\Q.*\\E", ".*", True),
    ("\\Q.*\\E", "ab", False),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), UNICODE_CASES, ids=[f"{c[0]}~{c[1]}" for c in UNICODE_CASES])
def test_unicode_behaviour(pattern: str, text: str, expected: bool) -> None:
    assert compile_rule_regex(pattern).fullmatch(text) is expected


# every character assigned in Python's Unicode database (RE2's tables are newer: it also knows
# letters and digits that Python 3.11 still calls unassigned)
EVERY_CODE_POINT = "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(ch) not in ("Cn", "Cs"))


@pytest.mark.parametrize(("escape", "python_equivalent"), [
    ("\\w", lambda c: c.isalnum() or c == "_" or unicodedata.category(c).startswith("M")),
    ("\\W", lambda c: not (c.isalnum() or c == "_" or unicodedata.category(c).startswith("M"))),
    ("\\d", lambda c: c.isdecimal()),
    ("\\D", lambda c: not c.isdecimal()),
    ("\\s", str.isspace),
    ("\\S", lambda c: not c.isspace()),
])
def test_rewritten_classes_match_pythons_str_semantics_on_every_code_point(escape: str, python_equivalent) -> None:
    """\\w also takes combining marks (Python's does not): a word typed with combining accents stays one word."""
    import re2

    expected = "".join(c for c in EVERY_CODE_POINT if python_equivalent(c))
    forms = [translate(escape)] + ([translate(f"[{escape}]")] if escape not in ("\\W", "\\S") else [])
    for form in forms:  # outside and inside a bracket class; runs (+) keep the match count small
        assert "".join(re2.findall(form + "+", EVERY_CODE_POINT)) == expected, form


FIRE_WORDS = [
    ("Có đám cháy ở chợ", True),
    ("tiếng NỔ lớn", True),
    ("nổ", True),
    ("khói\nđen", True),
    ("smoke, then fire!", True),
    (unicodedata.normalize("NFD", "Cháy nhà"), True),
    ("bánh xèo nổi tiếng", False),  # 'nổ' inside a longer word is not the word
    ("chaytoi", False),
    ("rác thải", False),
]


@pytest.mark.parametrize(("description", "fire"), FIRE_WORDS, ids=[w[0] for w in FIRE_WORDS])
def test_default_fire_keywords_route_respects_vietnamese_word_edges(description: str, fire: bool) -> None:
    decision = evaluate(default_ruleset(), report("waste", description=description), at_ward())
    assert ("fire-keywords" in decision.matched) is fire


# --- agreement with Python's re where the dialects agree ---------------------------------------------

ATOMS = ["a", "b", "ổ", "Ổ", ".", "\\w", "\\s", "\\d", "[aổ]", "[^b]", "(?:a|ổ)"]
TEXT_ALPHABET = ["a", "b", "ổ", "Ổ", "A", " ", "\u00a0", "1", "\n", "_"]


@st.composite
def simple_patterns(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        atom = draw(st.sampled_from(ATOMS))
        parts.append(atom + draw(st.sampled_from(["", "*", "+", "?", "{1,2}"])))
    flags = draw(st.sampled_from(["", "(?i)", "(?s)", "(?is)"]))
    return flags + "".join(parts)


@given(simple_patterns(), st.lists(st.sampled_from(TEXT_ALPHABET), max_size=8).map("".join))
def test_same_answer_as_python_re_on_the_common_dialect(pattern: str, text: str) -> None:
    assert compile_rule_regex(pattern).fullmatch(text) is (re.fullmatch(pattern, text) is not None)


@given(st.text(max_size=30))
def test_any_pattern_is_compiled_or_refused_never_crashes(pattern: str) -> None:
    try:
        regex = compile_rule_regex(pattern)
    except RegexRefused as refusal:
        assert str(refusal)
        return
    assert regex.fullmatch(pattern) in (True, False)
