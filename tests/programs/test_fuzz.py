"""10,000 random and mutated program texts: each parses or raises ProgramError with a position."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

import toy_tasks
from programs import ProgramError, parse

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


def _parse_or_program_error(text: str) -> None:
    try:
        p = parse(text)
    except ProgramError as err:
        assert err.line >= 1 and err.column >= 1, (text, err)
        assert err.message
    else:
        assert parse(str(p)) == p


def test_ten_thousand_mutated_and_random_texts():
    rng = random.Random(20261124)
    seeds = _seeds()
    outcomes = {"parsed": 0, "refused": 0}
    for k in range(10_000):
        if k % 5 == 4:  # one in five: random concatenations of language pieces
            text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        else:
            text = _mutate(rng.choice(seeds), rng)
        try:
            p = parse(text)
        except ProgramError as err:
            assert err.line >= 1 and err.column >= 1 and err.message, (text, err)
            outcomes["refused"] += 1
        else:
            assert parse(str(p)) == p
            outcomes["parsed"] += 1
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
