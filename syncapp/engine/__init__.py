"""The sync engine: pure normalisation, matching, diff and planning.

No HTTP and no ORM here: the services feed it snapshots and apply its plan.
"""
