"""Inbound webhooks: Clockify time entries, Notion buttons and Notion integration events.

Every delivery is stored first (store.py), then verified (verify.py), then
processed inside a transaction by its source's handler (clockify.py, notion.py).
"""
