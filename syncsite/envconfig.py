"""Typed, strict readers for settings from the environment.

django-environ does the parsing (URLs, lists, .env files); these wrappers make a
malformed value stop start-up with a message that names the variable, instead
of silently becoming False or a default.

Every variable NAME can instead come from a file named by NAME_FILE (the Docker
secrets convention): its contents, minus one trailing newline. Secrets
(`secret_var`, `secret_list_var`) are taken exactly as given: never stripped,
never interpolated; `manage.py check` warns about whitespace around one.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _from_file(name: str) -> str | None:
    """The contents of the file NAME_FILE names (one trailing newline removed), or None."""
    path = os.environ.get(f"{name}_FILE")
    if path is None:
        return None
    if os.environ.get(name) is not None:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ImproperlyConfigured(
            f"Setting {name}_FILE: cannot read the file it names ({reason}).") from None
    return text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text


def _raw(name: str) -> str | None:
    value = _from_file(name)
    if value is None:
        value = env.str(name, default=None)
    return None if value is None else value.strip()


def secret_var(name: str, default: str = "") -> str:
    """A secret exactly as given in NAME or NAME_FILE (no stripping, no $interpolation)."""
    value = _from_file(name)
    if value is None:
        value = os.environ.get(name)
    return default if value is None else value


def secret_list_var(name: str) -> list[str]:
    """A comma list of secrets (rotation); items are kept exactly, empty ones dropped."""
    return [item for item in secret_var(name).split(",") if item]


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
