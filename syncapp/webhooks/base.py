"""What every webhook sender is: its headers, its checks, its handler and its answers.

Like django-anymail's per-ESP webhook views, each sender (clockify.py, notion.py) is a
small class: `verify` reads its own signature header, `validate` refuses a body its handler
could never process, `prepare` does any HTTP the handler needs before the transaction
opens, and `handle` only writes to the database (and enqueues). store.py runs the cycle
the same way for all of them; sources.py is the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncapp.models import DeliveryStatus, WebhookDelivery


@dataclass
class Outcome:
    status: str
    http_status: int = 200
    message: str = ""


class Source:
    """One sender. Subclasses set `name` and the headers, and override what they need."""

    name = ""
    # The header that carries the secret or signature (its value is never stored).
    signature_header = ""
    # The header naming the event, for senders that put it there rather than in the body.
    event_type_header = ""

    @property
    def secret_headers(self) -> frozenset[str]:
        """Header names (lower case) whose values are secrets: stored as [redacted]."""
        return frozenset({self.signature_header.lower()} - {""})

    # -- the cycle, in order --------------------------------------------------------------------
    def unsigned(self, delivery: WebhookDelivery, payload: dict) -> Outcome | None:
        """The one kind of request that comes unsigned (Notion's handshake); else None."""
        return None

    def verify(self, headers, body: bytes) -> bool:
        raise NotImplementedError

    def describe(self, delivery: WebhookDelivery, payload: dict) -> None:
        """Set the delivery's event type and id from the body."""

    def validate(self, delivery: WebhookDelivery, payload: dict) -> None:
        """Raise InvalidBody for a payload the handler can never process (-> 400)."""

    def dedupe_key(self, delivery: WebhookDelivery, payload: dict) -> str | None:
        return None

    def prepare(self, delivery: WebhookDelivery, payload: dict) -> Any:
        """Before the transaction opens: read what the handler needs over HTTP.

        No HTTP call happens inside `handle`'s transaction: a slow API would hold the
        database's locks, and a rollback cannot take back a request.
        """
        return None

    def handle(self, delivery: WebhookDelivery, payload: dict, prepared: Any) -> Outcome:
        raise NotImplementedError

    def redact_body(self, payload: dict) -> str | None:
        """A body to store instead of one that holds a secret; None keeps it."""
        return None

    # -- its answers ----------------------------------------------------------------------------
    def refused(self) -> Outcome:
        return Outcome(DeliveryStatus.INVALID, 401, "Missing or wrong secret or signature.")

    def malformed(self, reason: str) -> Outcome:
        return Outcome(DeliveryStatus.MALFORMED, 400, reason)

    def duplicate(self) -> Outcome:
        return Outcome(DeliveryStatus.DUPLICATE, 200, "Already processed.")

    def failed(self) -> Outcome:
        return Outcome(DeliveryStatus.FAILED, 500, "Processing failed.")

    def event_type(self, headers) -> str:
        """The event named in a header, as received (describe() normalises it)."""
        return headers.get(self.event_type_header, "") if self.event_type_header else ""
