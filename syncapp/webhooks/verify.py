"""Constant-time checks of webhook secrets and signatures.

Each check compares against every configured secret (never stopping at the
first match), so several secrets can be valid at once while one is rotated.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def matches_any(presented: str | None, secrets: Iterable[str]) -> bool:
    """True when `presented` equals one of `secrets` exactly (no stripping: a secret with
    whitespace around it is another secret); nothing matches an empty value."""
    if not presented:
        return False
    given = presented.encode()
    matched = False
    for secret in secrets:
        if secret and hmac.compare_digest(given, secret.encode()):
            matched = True
    return matched


def notion_signature(body: bytes, key: str) -> str:
    """The X-Notion-Signature value: HMAC-SHA256 of the raw body, keyed by the token."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def notion_signature_valid(body: bytes, header: str | None, keys: Iterable[str]) -> bool:
    return matches_any(header, [notion_signature(body, key) for key in keys if key])
