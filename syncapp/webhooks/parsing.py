"""Parse a webhook body defensively, before anything else looks at it.

A sender's body is hostile until proven otherwise: nesting deep enough to
overflow the parser's recursion, numbers that overflow to infinity, strings
that PostgreSQL cannot store (NUL) or that cannot be encoded (a lone
surrogate). Each is refused here with a reason, so it is answered 400 and
stored as invalid instead of crashing later (500, retried forever).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32  # the deepest real body (Notion page properties) is under 10
# A bracket, or a JSON string literal (escapes included) whose brackets do not count. The
# closing quote is optional, so a string left open is consumed in one match: a scan that
# restarted at every quote inside it would be quadratic (a hostile body would take hours).
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class InvalidBody(ValueError):
    """A body that can never be processed; the message is the reason given to the sender."""


def parse(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or InvalidBody with the reason."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidBody("Body is not valid UTF-8.") from None
    check_depth(text)
    try:
        payload = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float,
                             parse_int=_int)
    except InvalidBody:
        raise
    except RecursionError:  # check_depth should have caught it; never escapes as a 500
        raise InvalidBody(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:
        raise InvalidBody(f"Body is not JSON ({str(exc)[:80]}).") from None
    if not isinstance(payload, dict):
        raise InvalidBody("Body is not a JSON object.")
    check_strings(payload)
    return payload


def check_depth(text: str) -> None:
    """InvalidBody when arrays/objects nest deeper than MAX_DEPTH (strings are skipped)."""
    depth = 0
    for match in _TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidBody(f"JSON nested deeper than {MAX_DEPTH} levels.")
        elif lexeme in ("]", "}"):
            depth -= 1


def check_strings(payload: Any) -> None:
    """InvalidBody when a key or string value holds NUL or a lone surrogate."""
    stack = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_string(key)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            _check_string(value)


def _check_string(value: str) -> None:
    found = _UNSTORABLE.search(value)
    if found is None:
        return
    if found.group() == "\x00":
        raise InvalidBody("A string holds a NUL character (\\u0000).")
    raise InvalidBody(f"A string holds a lone surrogate (\\u{ord(found.group()):04x}).")


def _no_constant(name: str):
    raise InvalidBody(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InvalidBody(f"Number out of range ({text[:40]}).")
    return number


def _int(text: str) -> int:
    if len(text) > 30:  # far beyond any id or timestamp; also spares int()'s digit limit
        raise InvalidBody(f"Number out of range ({text[:40]}…).")
    return int(text)


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced, so saving it can never fail."""
    return _UNSTORABLE.sub("\ufffd", text)
