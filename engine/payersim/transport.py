"""HTTP/1.1 plumbing: a threading server with keep-alive that hands requests to a backend."""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from engine.payersim.replies import Reply


class Backend(Protocol):
    """What the server needs from the simulator."""

    _stopping: threading.Event

    def _track(self, conn: socket.socket, add: bool) -> None: ...

    def _handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply | None: ...


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 256
    sim: Backend

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (or a socket shut down by stop()) is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS look-up (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this
    server: SimHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.sim._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.sim._track(self.connection, add=False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # silent by design
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        body = self.rfile.read(length) if length > 0 else b""
        path = urlsplit(self.path).path
        reply = self.server.sim._handle(method, path, self.headers, body)
        if reply is None:  # stopping: drop the connection without an answer
            self.close_connection = True
            return
        text = isinstance(reply.body, str)
        payload = reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if text else "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.server.sim._stopping.is_set():
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client went away
            self.close_connection = True
