"""10,000 random and mutated program texts: each parses or raises ProgramError with a position."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

import toy_tasks
from programs import Program, ProgramError, parse

PIECES = list("()[]{}:,.=+-*/%<>!^&|~#@$\\\"'\n\t 0123456789abcxyz_") + [
    "def ", "for ", " in ", "zip(", "yield ", "return ", "if ", " else ", " and ", " or ", "not ", "min(", "max(",
    "abs(", "    ", "\n    ", "\n        ", "//", "**", "<<", ">>", "==", "!=", "<=", "0x", "0b", "True", "lambda",
    "9" * 30, "(" * 50, ")" * 3, "\r\n", "\x00", "\u00e9", "\ufeff",
]


def _seeds() -> list[str]:
    seeds = [str(toy_tasks.get(n).reference) for n in toy_tasks.names()]
    seeds += ["def f(a, b):\n    return (a + b) % 13\n", "def f(xs, ys):\n    c = 0\n    for x, y in zip(xs, ys):\n        t = x + y + c\n        c, u = t // 2, t % 2\n        yield u\n"]
    return seeds


def _mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(text) + 1)
        if op == 0 and text:
            text = text[:i] + text[i + 1 :]
        elif op == 1:
            text = text[:i] + rng.choice(PIECES) + text[i:]
        elif op == 2:
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            lines.insert(j, lines[rng.randrange(len(lines))])
            text = "\n".join(lines)
        elif op == 3:
            text = text[:i]
        elif op == 4 and len(text) > 2:
            j = rng.randrange(len(text))
            chars = list(text)
            chars[min(i, len(chars) - 1)], chars[j] = chars[j], chars[min(i, len(chars) - 1)]
            text = "".join(chars)
        else:
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            lines[j] = rng.choice(["", " ", "  ", "\t", "        "]) + lines[j].lstrip()
            text = "\n".join(lines)
    return text


def _parse_or_program_error(text: str) -> str:
    """"parsed" (and the program round-trips) or "refused" (a ProgramError pointing into the text)."""
    try:
        p = parse(text)
    except ProgramError as err:
        assert err.message, (text, err)
        lines = text.split("\n")
        assert 1 <= err.line <= len(lines) + 1 and err.column >= 1, (text, err)
        if err.line <= len(lines):
            assert err.column <= len(lines[err.line - 1]) + 2, (text, err)
        return "refused"
    assert isinstance(p, Program)
    assert parse(str(p)) == p, text
    return "parsed"


def _texts(count: int, seed: int):
    rng = random.Random(seed)
    seeds = _seeds()
    for k in range(count):
        if k % 5 == 4:  # one in five: random concatenations of language pieces
            yield "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        else:
            yield _mutate(rng.choice(seeds), rng)


def test_ten_thousand_mutated_and_random_texts():
    outcomes = {"parsed": 0, "refused": 0}
    distinct = set()
    for text in _texts(10_000, seed=20261124):
        distinct.add(text)
        outcomes[_parse_or_program_error(text)] += 1
    # Every input is counted once, and they are not a few texts repeated.
    assert sum(outcomes.values()) == 10_000, outcomes
    assert len(distinct) >= 9_000, len(distinct)
    # Both branches must be exercised, or the generator is not testing anything.
    assert outcomes["parsed"] > 100 and outcomes["refused"] > 5000, outcomes


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_unicode_text(text):
    _parse_or_program_error(text)


def test_deep_nesting_is_an_error_not_a_crash():
    _parse_or_program_error("def f(a):\n    return " + "(" * 5000 + "a" + ")" * 5000 + "\n")
    _parse_or_program_error("def f(a):\n    return " + "-" * 5000 + "a\n")
    _parse_or_program_error("def f(a):\n    return " + " + ".join(["a"] * 5000) + "\n")
