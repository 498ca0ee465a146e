"""Branch conditions are data, never code: ``{name: value}`` or ``{name: {equals|in|lt|gt|set: …}}``.

All tests in one ``if`` must hold. Values are compared as numbers when both sides are numbers, else as text,
so ``{rating: 5}`` matches a saved 5 and ``{open_today: closed}`` matches the saved key "closed".
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

OPERATORS = ("equals", "in", "lt", "gt", "set")


def matches(condition: Mapping[str, Any], lookup: Callable[[str], Any]) -> bool:
    return all(_test(lookup(name), test) for name, test in condition.items())


def _test(actual: Any, test: Any) -> bool:
    if not isinstance(test, Mapping):
        return _equal(actual, test)
    return all(_OPERATOR_TESTS[op](actual, expected) for op, expected in test.items() if op in _OPERATOR_TESTS)


def _equal(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None:
        return left == right
    return str(actual).strip().lower() == str(expected).strip().lower()


def _compare(actual: Any, expected: Any, less: bool) -> bool:
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    return left < right if less else left > right


def _is_set(actual: Any, expected: Any) -> bool:
    present = actual is not None and actual != "" and actual != [] and actual != {}
    return present == bool(expected)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


_OPERATOR_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equal,
    "in": lambda actual, expected: any(_equal(actual, option) for option in expected or []),
    "lt": lambda actual, expected: _compare(actual, expected, less=True),
    "gt": lambda actual, expected: _compare(actual, expected, less=False),
    "set": _is_set,
}
