"""Dashboard views, one module per page; staff only (see access.py), except /health/."""
