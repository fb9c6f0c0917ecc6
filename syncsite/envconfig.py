"""Typed, strict readers for settings from the environment.

django-environ does the parsing (URLs, lists, .env files); these wrappers make a
malformed value stop start-up with a message that names the variable, instead
of silently becoming False or a default.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = env.str(name, default=None)
    return None if value is None else value.strip()


def _fail(name: str, value: str, expected: str) -> ImproperlyConfigured:
    # Never echo the value: it may be a secret pasted into the wrong variable.
    return ImproperlyConfigured(
        f"Setting {name} is malformed: expected {expected} (got {len(value)} characters)."
    )


def bool_var(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _fail(name, value, "true or false")


def int_var(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _fail(name, value, "a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"Setting {name} must be at least {minimum}.")
    return number


def float_var(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise _fail(name, value, "a number") from None
    if number < minimum:
        raise ImproperlyConfigured(f"Setting {name} must be at least {minimum}.")
    return number


def str_var(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def url_var(name: str, default: str = "", schemes: tuple[str, ...] = ("http", "https")) -> str:
    value = str_var(name, default).rstrip("/")
    if not value:
        return value
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise _fail(name, value, " or ".join(f"a {s}:// URL" for s in schemes))
    return value


def list_var(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def db_var(name: str, default: str) -> dict[str, Any]:
    value = str_var(name, default)
    if urlparse(value).scheme not in environ.Env.DB_SCHEMES:
        raise _fail(name, value, "a database URL such as postgres://user@host/db or sqlite:///path")
    try:
        config = env.db_url_config(value)
    except Exception:
        raise _fail(name, value, "a database URL such as postgres://user@host/db") from None
    if not config.get("ENGINE"):
        raise _fail(name, value, "a database URL with a known scheme (sqlite, postgres)")
    return config
