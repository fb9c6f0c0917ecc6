"""Serve a Sandbox over loopback HTTP for the demo.

The web server and the django-q2 worker are separate processes; pointing both
at one served sandbox lets them share its state. `/_sandbox/...` holds a few
control endpoints for the demo (inject faults, add a Notion page).
"""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from syncapp.sandbox.base import SandboxDrop, SandboxRequest, SandboxTimeout
from syncapp.sandbox.workspace import Sandbox

log = logging.getLogger(__name__)

DATABASES = {"clients": "CLIENTS", "projects": "PROJECTS", "tasks": "TASKS"}


def control(sandbox: Sandbox, method: str, path: str, body: dict) -> tuple[int, dict]:
    """The demo's control endpoints; no authentication: bind to loopback only."""
    from syncapp.sandbox import ids

    if path == "/_sandbox/health":
        return 200, {"ok": True}
    if method != "POST":
        return 405, {"error": "POST only"}
    if path == "/_sandbox/faults":
        emulators = {"notion": sandbox.notion, "clockify": sandbox.clockify,
                     "salesforce": getattr(sandbox, "salesforce", None)}
        emulator = emulators.get(body.get("service", ""))
        if emulator is None:
            return 400, {"error": "service must be notion, clockify or salesforce"}
        emulator.faults.configure(float(body.get("rate", 0)), tuple(body.get("kinds") or ()))
        return 200, {"ok": True}
    if path == "/_sandbox/clockify/feed":  # the change feed: on, off (absent) or failing
        try:
            sandbox.clockify.set_feed(str(body.get("mode", "")))
        except ValueError as exc:
            return 400, {"error": str(exc)}
        return 200, {"ok": True, "mode": sandbox.clockify.feed}
    if path == "/_sandbox/clockify/budget":
        # {"per_hour": 30} like a new Free workspace; {"per_hour": null} lifts it.
        per_hour = body.get("per_hour")
        if per_hour is not None and (not isinstance(per_hour, int) or per_hour < 1):
            return 400, {"error": "per_hour must be a positive whole number or null"}
        sandbox.clockify.limit_per_hour(per_hour)
        return 200, {"ok": True, "per_hour": per_hour}
    if path == "/_sandbox/clockify/track":
        from syncapp.sandbox.demo import track_time

        return 201, {"created": track_time(sandbox, count=int(body.get("count", 20)))}
    if path == "/_sandbox/notion/pages":
        database = DATABASES.get(body.get("database", ""))
        if not database:
            return 400, {"error": "database must be clients, projects or tasks"}
        source = getattr(ids, f"{database}_DATA_SOURCE_ID")
        page_id = sandbox.notion.create_page(source, body.get("values") or {})
        return 201, {"id": page_id}
    return 404, {"error": "unknown control endpoint"}


def make_handler(sandbox: Sandbox, timeout_seconds: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - stdlib signature
            log.debug("sandbox %s", format % args)

        def _route(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if url.path.startswith("/_sandbox/"):
                status, payload = control(sandbox, self.command, url.path,
                                          json.loads(body or b"{}"))
                return self._send(status, json.dumps(payload).encode(), {})
            for prefix, emulator in sandbox.emulators.items():
                if url.path.startswith(prefix + "/"):
                    request = SandboxRequest.build(self.command, url.path[len(prefix):],
                                                   url.query, dict(self.headers), body)
                    return self._answer(emulator, request)
            return self._send(404, b'{"error":"no emulator at this path"}', {})

        def _answer(self, emulator, request):
            try:
                answer = emulator.handle(request)
            except SandboxTimeout:
                time.sleep(timeout_seconds)
                self.close_connection = True
                return None
            except SandboxDrop:
                self.close_connection = True
                return None
            return self._send(answer.status, answer.content(), answer.headers)

        def _send(self, status, content, headers):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _route

    return Handler


def serve(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8765,
          timeout_seconds: float = 5.0) -> ThreadingHTTPServer:
    """A started-but-not-running server: call serve_forever() (or run it in a thread)."""
    server = ThreadingHTTPServer((host, port), make_handler(sandbox, timeout_seconds))
    server.daemon_threads = True
    return server
