"""Sandbox emulators of the Notion and Clockify APIs.

They speak the documented payloads (checked against ../shared/reference in the
tests), paginate, rate-limit and fail on demand. Two ways to use them:
in-process (`transport.mount`), so tests run every line of the real clients,
or served over loopback (`python manage.py sandbox`) for the demo, so the web
server and the django-q2 worker share one state.
"""
