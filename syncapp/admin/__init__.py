"""Admin pages, one module per area (registration happens on import)."""

from syncapp.admin import review, sync, webhooks  # noqa: F401
