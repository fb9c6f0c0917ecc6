"""Admin pages, one module per area (registration happens on import)."""

from syncapp.admin import sync  # noqa: F401
