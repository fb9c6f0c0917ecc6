"""Inbound webhooks: Clockify time entries, Notion buttons and Notion integration events.

Every delivery is stored first (store.py), then verified (verify.py), then
processed by its source (base.Source: clockify.py, notion.py; by name in sources.py):
any HTTP it needs is done first (`prepare`), then its handler writes inside a
transaction.
"""
