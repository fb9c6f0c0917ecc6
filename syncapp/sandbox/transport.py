"""Carry `requests` calls to an emulator in-process.

A `requests` transport adapter mounted on a session for the emulator's base
URL: everything above it (sessions, retries, JSON parsing, headers) is the
real client code; only the socket is replaced.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from syncapp.sandbox.base import Emulator, SandboxDrop, SandboxRequest, SandboxTimeout


class EmulatorAdapter(BaseAdapter):
    def __init__(self, emulator: Emulator, base_url: str) -> None:
        super().__init__()
        self.emulator = emulator
        self.prefix = urlsplit(base_url).path.rstrip("/")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = urlsplit(request.url)
        path = url.path[len(self.prefix):] if url.path.startswith(self.prefix) else url.path
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        sandbox_request = SandboxRequest.build(
            request.method, path or "/", url.query, dict(request.headers), body
        )
        try:
            answer = self.emulator.handle(sandbox_request)
        except SandboxTimeout:
            timeout = requests.exceptions.ReadTimeout("sandbox: read timed out", request=request)
            raise timeout from None
        except SandboxDrop as exc:
            raise requests.exceptions.ConnectionError(f"sandbox: {exc}", request=request) from None
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", **answer.headers}
        )
        response._content = answer.content()
        response.url = request.url
        response.request = request
        response.reason = requests.status_codes._codes.get(answer.status, ("",))[0].upper()
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def mount(session: requests.Session, base_url: str, emulator: Emulator) -> None:
    """Route every request under `base_url` on `session` to `emulator`."""
    session.mount(base_url.rstrip("/") + "/", EmulatorAdapter(emulator, base_url))
