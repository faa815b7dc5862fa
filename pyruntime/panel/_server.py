"""The panel's HTTP server: static page, JSON API, SSE stream, and the security rules.

Every request is checked in this order (SPEC §3.5):
    1. ``Host`` must be ``127.0.0.1:PORT``, ``localhost:PORT`` or ``[::1]:PORT``, else 403
       (DNS rebinding: a hostile page's name resolved to 127.0.0.1 sends its own Host).
    2. The token: ``?token=`` on a GET (answered with an ``HttpOnly; SameSite=Strict``
       cookie and a 303 to the same URL without it), the cookie, or
       ``Authorization: Bearer TOKEN``; else 401.  Compared in constant time.
    3. ``POST``/``DELETE``: an ``Origin`` that is present must be the served origin
       (``http://`` + the Host above), else 403; then 403 unless control is enabled.
    4. The route: 404 for an unknown path, 405 for a wrong method, 400 for a malformed
       body (bad JSON, wrong types), 413 for a body over 64 KiB.

The cookie's name carries the port: browsers share cookies between ports of one host, so
two panels on 127.0.0.1 must not overwrite each other's.  No CORS header is ever sent.
Each connection is served on its own daemon thread (``ThreadingHTTPServer``), neither an
M nor a G, so the panel answers while the runtime is paused, stopped or wedged.
"""

from __future__ import annotations

import hmac
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._collector import record_to_event

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".txt": "text/plain; charset=utf-8"}
MAX_BODY = 64 * 1024
HEARTBEAT = 15.0
MAX_CLIENTS = 32
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


DEFAULT_RATE = 50_000   # events a second per SSE client unless it asks (?max_rate=N, 0: no limit)
BATCH = 4096
TICK = 0.05


def _gap(a: int, b: int, why: str) -> str:
    """One gap message covering seqs a..b; its id is b, so Last-Event-ID resumes after it."""
    return f"id: {b}\ndata: " + json.dumps({"kind": "gap", "dropped": b - a + 1, "from_seq": a,
                                            "to_seq": b, "reason": why}) + "\n\n"


class BadRequest(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 64

    def __init__(self, addr: tuple, handler: Any, panel: Any) -> None:
        self.panel = panel
        self.sse_clients = 0
        self.sse_lock = threading.Lock()
        super().__init__(addr, handler)


class Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "pyruntime-panel"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: stderr is the program's
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, code: int, body: bytes, ctype: str, extra: tuple = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in SECURITY_HEADERS:
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-store")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: Any) -> None:
        if isinstance(obj, dict) and "schema" not in obj:
            obj = {"schema": 1, **obj}
        self._send(code, json.dumps(obj, separators=(",", ":"), default=str).encode(), "application/json")

    def _error(self, code: int, msg: str) -> None:
        self._json(code, {"error": msg, "status": code})

    def _allowed_hosts(self) -> set[str]:
        port = self.server.panel.port
        return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}

    def _cookie_name(self) -> str:
        return f"pyruntime_panel_{self.server.panel.port}"

    def _token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                         self.server.panel.token.encode())

    def _authorized(self, query: dict) -> str | None:
        """'cookie'/'bearer'/'query' for how the request proved the token, or None."""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and self._token_ok(auth[7:].strip()):
            return "bearer"
        for part in self.headers.get("Cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == self._cookie_name() and self._token_ok(v):
                return "cookie"
        if self.command in ("GET", "HEAD") and "token" in query and self._token_ok(query["token"][-1]):
            return "query"
        return None

    def _gate(self) -> tuple[str, dict] | None:
        """Apply the security rules; return (path, query) or None when answered."""
        host = self.headers.get("Host")
        if host not in self._allowed_hosts():
            self._error(403, "forbidden: the Host header must be 127.0.0.1:PORT, localhost:PORT or [::1]:PORT")
            return None
        try:
            u = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        except ValueError:
            self._error(400, "malformed request target")
            return None
        how = self._authorized(query)
        if how is None:
            self._error(401, "unauthorized: open the URL the panel printed (with ?token=), "
                             "or send 'Authorization: Bearer TOKEN'")
            return None
        if how == "query":
            rest = [(k, v) for k, vs in query.items() if k != "token" for v in vs]
            loc = u.path + ("?" + urllib.parse.urlencode(rest) if rest else "")
            cookie = (f"{self._cookie_name()}={self.server.panel.token}; HttpOnly; SameSite=Strict; Path=/")
            self._send(303, b"", "text/plain", (("Location", loc), ("Set-Cookie", cookie)))
            return None
        if self.command in ("POST", "DELETE", "PUT", "PATCH"):
            origin = self.headers.get("Origin")
            if origin is not None and origin != f"http://{host}":
                self._error(403, "forbidden: cross-origin request")
                return None
            if not self.server.panel.control:
                self._error(403, "forbidden: the panel is read-only; start it with --panel-control "
                                 "(or panel.start(control=True)) to use the controls")
                return None
        return u.path, query

    def _body(self) -> Any:
        n = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            raise BadRequest(400, "chunked bodies are not accepted; send Content-Length")
        if n is None or n == "":
            return {}
        try:
            k = int(n)
        except ValueError:
            raise BadRequest(400, "bad Content-Length") from None
        if k < 0:
            raise BadRequest(400, "bad Content-Length")
        if k > MAX_BODY:
            raise BadRequest(413, f"body too large (max {MAX_BODY} bytes)")
        raw = self.rfile.read(k) if k else b""
        if len(raw) != k:
            raise BadRequest(400, "truncated body")
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(400, "the body is not valid JSON") from None

    # -- methods ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _dispatch(self, method: str) -> None:
        try:
            r = self._gate()
            if r is None:
                return
            path, query = r
            self.server.panel.route(self, method, path, query)
        except BadRequest as e:
            self._error(e.code, e.msg)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # never let a request disturb the program
            try:
                self._error(500, f"internal error: {type(e).__name__}: {e}")
            except Exception:
                self.close_connection = True

    # -- static ----------------------------------------------------------------------------

    def static(self, name: str) -> None:
        if name in ("", "/"):
            name = "index.html"
        name = name.lstrip("/")
        full = os.path.normpath(os.path.join(STATIC_DIR, name))
        if not full.startswith(STATIC_DIR + os.sep) or not os.path.isfile(full):
            self._error(404, "not found")
            return
        with open(full, "rb") as f:
            body = f.read()
        self._send(200, body, _TYPES.get(os.path.splitext(full)[1], "application/octet-stream"))

    # -- SSE -------------------------------------------------------------------------------

    def sse(self, collector: Any, query: dict) -> None:
        srv = self.server
        with srv.sse_lock:
            if srv.sse_clients >= MAX_CLIENTS:
                self._error(503, f"too many event streams (max {MAX_CLIENTS})")
                return
            srv.sse_clients += 1
        try:
            last = None
            lei = self.headers.get("Last-Event-ID")
            src = lei if lei is not None else (query.get("since") or [None])[-1]
            if src is not None:
                try:
                    last = int(src)
                except ValueError:
                    raise BadRequest(400, "Last-Event-ID / since must be an integer") from None
                if last < 0:
                    raise BadRequest(400, "Last-Event-ID / since must be >= 0")
            if last is None:
                last = collector.seq
            rate = DEFAULT_RATE
            if "max_rate" in query:
                try:
                    rate = int(query["max_rate"][-1])
                except ValueError:
                    raise BadRequest(400, "max_rate must be an integer (events per second; 0: no limit)") from None
                if rate < 0:
                    raise BadRequest(400, "max_rate must be >= 0")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Accel-Buffering", "no")
            for k, v in SECURITY_HEADERS:
                self.send_header(k, v)
            self.end_headers()
            self.close_connection = True
            w = self.wfile
            w.write(b"retry: 1000\n\n")
            w.flush()
            beat = time.monotonic() + HEARTBEAT
            panel = srv.panel
            burst = max(256.0, rate / 4)
            tokens, tlast = burst, time.monotonic()
            while not panel.stopped:
                out = []
                budget = BATCH
                if rate:
                    now = time.monotonic()
                    tokens = min(burst, tokens + rate * (now - tlast))
                    tlast = now
                    pending = collector.seq - last
                    if pending > tokens:
                        # The client asked for at most ``rate`` events a second: skip the
                        # oldest, said so in a gap, keep the newest.
                        skip = pending - int(tokens)
                        out.append(_gap(last + 1, last + skip, "rate"))
                        last += skip
                    budget = min(BATCH, max(0, int(tokens)))
                dropped, items = collector.read_from(last, limit=budget) if budget else (0, [])
                if dropped:
                    out.append(_gap(last + 1, last + dropped, "behind"))
                    last += dropped
                for seq, rec in items:
                    try:
                        js = json.dumps(record_to_event(rec, seq), separators=(",", ":"), default=str)
                    except Exception:
                        js = json.dumps({"seq": seq, "kind": str(rec[0])})
                    out.append(f"id: {seq}\ndata: {js}\n\n")
                    last = seq
                tokens -= len(items)
                if out:
                    w.write("".join(out).encode())
                    w.flush()
                    beat = time.monotonic() + HEARTBEAT
                    if len(items) >= BATCH:
                        continue
                elif time.monotonic() >= beat:
                    w.write(b": ping\n\n")
                    w.flush()
                    beat = time.monotonic() + HEARTBEAT
                # Wake at most every TICK (each wake-up takes the GIL from a running M):
                # a rate-limited client gets its events in batches, ~20 a second.
                time.sleep(TICK)
                collector.wait_new(last, 0.5)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            with srv.sse_lock:
                srv.sse_clients -= 1
