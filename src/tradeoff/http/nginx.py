"""nginx as the real reverse-proxy cache, a tiny origin to put behind it, and a model of
nginx's ``proxy_cache`` layer that predicts its ``$upstream_cache_status``.

* :class:`Origin`: a threaded ``http.server`` on a unix socket; each path answers with
  the status, header fields and delay the caller chose, answers conditional requests
  with 304 (RFC 9110 §13.2.2) when it has validators, and counts what reached it.
* :class:`NginxServer`: nginx (Debian package) in a temporary folder, one process
  (``master_process off; daemon off``), listening on a unix socket, ``proxy_cache``
  in that folder, ``add_header X-Cache $upstream_cache_status``, in front of an
  :class:`Origin`. Started and stopped by :class:`tradeoff.harness.servers.Server`.
* :class:`NginxModel`: what nginx 1.22's proxy cache does, written from its documented
  behaviour and checked against the real server (tests/http/test_http_nginx.py).
* :func:`replay`: send a timed request sequence (several requests may be in flight at
  once) through real nginx, and :func:`replay_model` through the model; both give the
  cache status of every request.

Where nginx (1.22, without ``proxy_cache_valid`` or ``proxy_ignore_headers``) departs
from RFC 9111, found by replaying sequences through the real server
(tests/http/test_http_nginx.py holds each case with nginx's and the RFC's answer):

* only a response with an explicit positive lifetime (``s-maxage``, ``max-age``,
  ``Expires`` in the future, or ``X-Accel-Expires``) is stored: no heuristic freshness
  from Last-Modified (RFC 9111 §4.2.2 allows one), ``public`` alone is not stored, and
  ``max-age=0`` is not stored at all (RFC: stored, validated before use);
* ``no-cache`` (qualified or not), ``private`` and ``no-store`` are found by substring
  search and all mean "do not store" (RFC §5.2.2.4: no-cache may be stored and
  validated); a response with ``Set-Cookie`` is not stored; the quoted form
  ``max-age="60"`` is not understood (RFC §5.2: recipients ought to accept it);
* header order matters: an ``Expires`` in the past *before* ``Cache-Control: max-age=60``
  makes the response uncacheable (RFC §5.3: max-age wins over Expires);
* the request's Cache-Control (``no-cache``, ``max-age=0``) and ``Pragma`` are ignored:
  a fresh entry is a HIT whatever the client asks (RFC §5.2.1);
* ``Authorization`` in the request does not stop storing, and the stored response is
  served to other clients (RFC §3.5 forbids this without public/s-maxage/must-revalidate);
* ``Age`` and ``Date`` are ignored: the lifetime runs from when nginx received the
  response, in whole seconds (``valid_sec = now + max-age``, fresh while
  ``now <= valid_sec``: up to one second longer than RFC 9111 §4.2.3 computes, and an
  ``Age: 100`` with ``max-age=60`` is still a HIT);
* stale service while another request updates the entry (``UPDATING``) follows
  ``proxy_cache_use_stale updating`` or the response's ``stale-while-revalidate``
  (RFC 5861), and ``must-revalidate``, ``proxy-revalidate`` and ``s-maxage`` do not
  stop it (RFC §5.2.2.2, §5.2.2.8, §5.2.2.10 do);
* ``stale-if-error`` in the response (RFC 5861 §4: 500, 502, 503, 504 or no answer)
  serves the stale entry only when the origin gives no answer (STALE); a 500 from the
  origin is passed on (EXPIRED) unless ``proxy_cache_use_stale http_500`` is set;
* ``proxy_cache_lock`` holds concurrent requests only for a *new* entry: for an expired
  one every concurrent request goes to the origin (EXPIRED) unless stale service applies.

Where it agrees: s-maxage over max-age over Expires, Vary (one entry per variant, none
for ``Vary: *``), validation with If-None-Match / If-Modified-Since giving REVALIDATED
on a 304 and EXPIRED when the origin changed.
"""
from __future__ import annotations

import http.client
import os
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Sequence

from ..harness.servers import Server, ServerError, _ask, missing_notice
from ._parse import normalize_headers, parse_http_date, parse_vary
from ._semantics import not_modified

__all__ = ["DOWN", "Resource", "Origin", "NginxServer", "NginxModel", "Step", "replay", "replay_model",
           "nginx_missing", "MISS", "HIT", "EXPIRED", "STALE", "UPDATING", "REVALIDATED"]

MISS, HIT, EXPIRED, STALE, UPDATING, REVALIDATED = (
    "MISS", "HIT", "EXPIRED", "STALE", "UPDATING", "REVALIDATED")


class _Down:
    """The origin is down for a path: the connection is closed without a response."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DOWN"


#: a resource version meaning "the origin fails": it closes the connection unanswered
DOWN = _Down()


def nginx_missing() -> str | None:
    """None if nginx is installed, else a one-line notice for ``pytest.skip``."""
    return missing_notice("nginx")


class Resource:
    """What the origin answers for one path.

    Args:
        headers: response header fields (a mapping or pairs), sent in this order.
        status: the status code of the full response.
        delay: seconds the origin waits before answering (to keep a fetch in flight).
        body: the body bytes.
    ``ETag`` / ``Last-Modified`` among the headers make the origin answer a matching
    conditional request with 304 carrying the same header fields (RFC 9110 §15.4.5).
    """

    __slots__ = ("headers", "status", "delay", "body")

    def __init__(self, headers=None, status: int = 200, delay: float = 0.0, body: bytes = b"ok") -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay!r}")
        self.headers = list(normalize_headers(headers).items()) if headers else []
        self.status = int(status)
        self.delay = float(delay)
        self.body = bytes(body)


def _version(res, t: float):
    """The version of a resource in force at ``t`` seconds: a Resource, DOWN or None."""
    if isinstance(res, list):
        now = None
        for at, version in res:
            if at <= t:
                now = version
        return now
    return res


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class Origin:
    """A tiny origin on a unix socket, served by a thread; a context manager.

    ``resources`` maps a path to a :class:`Resource` (unknown paths: 404, not
    cacheable), or to ``[(from time, Resource or DOWN), ...]`` versions, timed from
    :attr:`t0` (set by :func:`replay`). ``hits`` counts the requests that reached it per path, ``conditional``
    the conditional ones, ``not_modified`` the 304s it sent.
    """

    def __init__(self, resources: dict, path: str | os.PathLike) -> None:
        self.resources = dict(resources)
        self.path = Path(path)
        self.hits: dict = {}
        self.conditional: dict = {}
        self.not_modified: dict = {}
        self._lock = threading.Lock()
        self.t0 = time.time()
        self._server = None
        self._thread = None

    def _handler(self):
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                res = _version(origin.resources.get(self.path.split("?", 1)[0]), time.time() - origin.t0)
                with origin._lock:
                    origin.hits[self.path] = origin.hits.get(self.path, 0) + 1
                if res is DOWN:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if res is None:
                    self._send(404, [("Cache-Control", "no-store")], b"no such path")
                    return
                if res.delay:
                    time.sleep(res.delay)
                hdrs = dict(res.headers)
                cond = "if-none-match" in self.headers or "if-modified-since" in self.headers
                if cond:
                    with origin._lock:
                        origin.conditional[self.path] = origin.conditional.get(self.path, 0) + 1
                    req = {k.lower(): v for k, v in self.headers.items()}
                    if not_modified(req, hdrs.get("etag"), hdrs.get("last-modified")):
                        with origin._lock:
                            origin.not_modified[self.path] = origin.not_modified.get(self.path, 0) + 1
                        self._send(304, res.headers, b"")
                        return
                self._send(res.status, res.headers, res.body)

            def _send(self, status, headers, body):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def address_string(self):
                return "origin"

            def log_message(self, *args):
                pass

        return Handler

    def start(self) -> "Origin":
        if self._server is None:
            self._server = _UnixHTTPServer(str(self.path), self._handler())
            self._thread = threading.Thread(target=self._server.serve_forever, name="tradeoff-origin",
                                            kwargs={"poll_interval": 0.05}, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._thread.join(5)
        try:
            self.path.unlink()
        except OSError:
            pass

    def __enter__(self) -> "Origin":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class NginxServer(Server):
    """nginx as a caching reverse proxy on a unix socket, in front of an :class:`Origin`.

    One process (``master_process off; daemon off``: no worker, so no user switch when
    run as root); pid, logs, temporary paths and ``proxy_cache_path`` all inside the
    temporary folder. The origin is started with nginx (on ``origin.sock`` in the same
    folder) and stopped with it.

    Args:
        resources: path -> :class:`Resource` for the origin.
        lock: ``proxy_cache_lock on`` (one request fills a new entry, the others wait).
        use_stale: the ``proxy_cache_use_stale`` arguments, e.g. ``("updating",)``.
        revalidate: ``proxy_cache_revalidate on`` (conditional requests for stale entries).
        background_update: ``proxy_cache_background_update on``.
        extra: more directives for the caching ``location``.
        timeout, keep: as for :class:`Server`.

    >>> with NginxServer({"/a": Resource({"Cache-Control": "max-age=60"})}) as ng:  # doctest: +SKIP
    ...     [ng.get("/a")[1] for _ in range(2)]
    ['MISS', 'HIT']
    """

    name = "nginx"
    binary = "nginx"
    socket_name = "nginx.sock"

    def __init__(self, resources: dict, *, lock: bool = False, use_stale: Sequence[str] = (),
                 revalidate: bool = False, background_update: bool = False,
                 lock_timeout: float = 5.0, extra: Sequence[str] = (), timeout: float = 10.0,
                 keep: bool = False) -> None:
        super().__init__(timeout=timeout, keep=keep)
        self.resources = dict(resources)
        self.lock = bool(lock)
        self.use_stale = tuple(use_stale)
        self.revalidate = bool(revalidate)
        self.background_update = bool(background_update)
        self.lock_timeout = float(lock_timeout)
        self.extra = list(extra)
        self.origin: Origin | None = None

    def config(self) -> str:
        """The nginx.conf text for the current folder."""
        d = self.dir
        loc = [f"proxy_pass http://unix:{d / 'origin.sock'}:;",
               "proxy_cache z;", "proxy_cache_key $uri;",
               "add_header X-Cache $upstream_cache_status always;",
               f"proxy_cache_lock {'on' if self.lock else 'off'};",
               f"proxy_cache_lock_timeout {int(self.lock_timeout * 1000)}ms;",
               f"proxy_cache_revalidate {'on' if self.revalidate else 'off'};",
               f"proxy_cache_background_update {'on' if self.background_update else 'off'};"]
        if self.use_stale:
            loc.append(f"proxy_cache_use_stale {' '.join(self.use_stale)};")
        loc += self.extra
        body = "\n      ".join(loc)
        return f"""# written by tradeoff.http.nginx.NginxServer
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  proxy_cache_path {d}/cache levels=1:2 keys_zone=z:1m inactive=10m use_temp_path=off;
  server {{
    listen unix:{d}/{self.socket_name};
    location = /__ready {{ return 204; }}
    location / {{
      {body}
    }}
  }}
}}
"""

    def _command(self) -> list[str]:
        return ["-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-e", str(self.dir / "error.log")]

    def _ready(self) -> bool:
        return _ask(self.socket_path, b"GET /__ready HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 204")

    def start(self) -> "NginxServer":
        """Start the origin, write nginx.conf, start nginx and wait until it answers.

        Raises:
            ServerError: nginx is missing, the configuration is refused, or it was not ready
                in time; nothing is left running.
        """
        if self.running:
            return self
        self._binary_path()
        import tempfile

        if self._state.dir is None:
            self._state.dir = Path(tempfile.mkdtemp(prefix=f"tradeoff-{self.name}-"))
        try:
            (self.dir / "tmp").mkdir(exist_ok=True)
            (self.dir / "nginx.conf").write_text(self.config())
            if self.origin is None:
                self.origin = Origin(self.resources, self.dir / "origin.sock").start()
            super().start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop nginx, then the origin; remove the folder unless ``keep``. Idempotent."""
        try:
            super().stop()
        finally:
            origin, self.origin = self.origin, None
            if origin is not None:
                origin.stop()

    def get(self, path: str, headers=None, timeout: float = 10.0):
        """GET ``path`` through nginx: (status code, X-Cache value or '', body)."""
        conn = _UnixConnection(str(self.socket_path), timeout)
        try:
            conn.request("GET", path, headers=dict(headers or {}))
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, resp.getheader("X-Cache") or "", body
        finally:
            conn.close()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class Step:
    """One request of a sequence: at ``at`` seconds from the start, GET ``path`` with
    ``headers``."""

    __slots__ = ("at", "path", "headers")

    def __init__(self, at: float, path: str, headers=None) -> None:
        if at < 0:
            raise ValueError(f"at must be >= 0, got {at!r}")
        self.at = float(at)
        self.path = path
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"Step({self.at}, {self.path!r})"


def replay(server: NginxServer, steps: Sequence[Step], *, align: bool = True) -> list:
    """Send ``steps`` through real nginx, each from its own thread at its time; the
    X-Cache value of each, in the order of ``steps``.

    With ``align`` the sequence starts half-way through a wall-clock second, so that
    steps at whole-second offsets fall far from nginx's one-second clock ticks.
    Returns (statuses, start time).
    """
    if align:
        now = time.time()
        target = int(now) + 1.5 if now - int(now) > 0.4 else int(now) + 0.5
        time.sleep(max(0.0, target - time.time()))
    t0 = time.time()
    if server.origin is not None:
        server.origin.t0 = t0
    out: list = [None] * len(steps)
    errors: list = []

    def one(i, step):
        try:
            time.sleep(max(0.0, t0 + step.at - time.time()))
            out[i] = server.get(step.path, step.headers)[1] or "-"
        except Exception as exc:  # reported below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i, s), daemon=True) for i, s in enumerate(steps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise ServerError(f"a request through nginx failed: {errors[0]}")
    return out, t0


class _Entry:
    """A stored entry of the model: nginx's valid_sec and updating_sec, and validators."""

    __slots__ = ("valid_sec", "updating_sec", "etag", "last_modified", "error_sec")

    def __init__(self, valid_sec, updating_sec, etag, last_modified, error_sec=0):
        self.error_sec = error_sec
        self.valid_sec = valid_sec
        self.updating_sec = updating_sec
        self.etag = etag
        self.last_modified = last_modified


def _nginx_number(low: str, name: str):
    """None if ``name`` is absent; -1 if its digits are not clean; else the number."""
    at = low.find(name)
    if at < 0:
        return None
    n = 0
    for ch in low[at + len(name):]:
        if ch in ",; ":
            break
        if not "0" <= ch <= "9":
            return -1
        n = n * 10 + ord(ch) - 48
    return n


class NginxModel:
    """nginx 1.22's ``proxy_cache`` as a discrete-event model (see the module notes).

    ``resources`` maps a path to a :class:`Resource`, or to a list of
    ``(from time, Resource)`` versions when the origin changes during the sequence.

    Time is whole seconds as in nginx (``ngx_time()``): an entry fetched in second s
    with ``max-age=n`` is valid until second s + n inclusive. One in-flight upstream
    request per key is tracked (the lock holder or the updater). O(n k log k) for n steps
    with at most k fetches in flight at once.

    >>> m = NginxModel({"/a": Resource({"Cache-Control": "max-age=1"})})
    >>> m.run([Step(0, "/a"), Step(1, "/a"), Step(2, "/a")], t0=1e9 + 0.5)
    ['MISS', 'HIT', 'EXPIRED']
    """

    def __init__(self, resources: dict, *, lock: bool = False, use_stale: Sequence[str] = (),
                 revalidate: bool = False, lock_timeout: float = 5.0) -> None:
        self.resources = dict(resources)
        self.lock = bool(lock)
        self.use_stale = set(use_stale)
        self.revalidate = bool(revalidate)
        self.lock_timeout = float(lock_timeout)

    def lifetime(self, headers: list, now_sec: int):
        """(valid_sec, updating_sec, vary names, error_sec) if nginx stores this response, else None.

        The header fields are read in the order they arrive, as nginx's handlers do:

        * Cache-Control (``ngx_http_upstream_process_cache_control``), unless an
          X-Accel-Expires already set the lifetime: a case-insensitive substring search
          for ``no-cache``, ``no-store``, ``private`` (any: do not store); then
          ``s-maxage=`` or else ``max-age=`` followed by digits up to ``,``, ``;``, a
          space or the end (anything else, a quoted value included, or 0: do not
          store); ``stale-while-revalidate=`` and ``stale-if-error=`` likewise;
        * Expires, only when no lifetime is set yet: a bad or past date means "do not
          store" (and a later Cache-Control max-age does not undo that);
        * X-Accel-Expires: seconds (0: do not store) or ``@`` an absolute time; it
          overrides the lifetime;
        * Set-Cookie, or Vary ``*``: do not store.
        """
        cacheable = True
        valid = None
        accel = False
        updating = error = 0
        vary = ()
        for name, value in normalize_headers(headers).items():
            low = value.lower()
            if name == "cache-control":
                if accel and valid is not None:
                    continue
                if "no-cache" in low or "no-store" in low or "private" in low:
                    cacheable = False
                    continue
                for key in ("s-maxage=", "max-age="):
                    n = _nginx_number(low, key)
                    if n is not None:
                        if n <= 0:
                            cacheable = False
                        else:
                            valid = now_sec + n
                        break
                n = _nginx_number(low, "stale-while-revalidate=")
                if n is not None and n > 0:
                    updating = n
                n = _nginx_number(low, "stale-if-error=")
                if n is not None and n > 0:
                    error = n
            elif name == "expires":
                if valid is not None:
                    continue
                e = parse_http_date(value)
                if e is None or e < now_sec:
                    cacheable = False
                else:
                    valid = int(e)
            elif name == "x-accel-expires":
                v = value.strip()
                n = _nginx_number("=" + v.lstrip("@"), "=")
                if n is None or n < 0:
                    continue
                if v.startswith("@"):
                    valid, accel = n, True
                elif n == 0:
                    cacheable = False
                else:
                    valid, accel = now_sec + n, True
            elif name == "set-cookie":
                cacheable = False
            elif name == "vary":
                vary = parse_vary(value)
                if vary == ("*",):
                    cacheable = False
        if not cacheable or valid is None:
            return None
        return valid, updating, vary, error

    def run(self, steps: Sequence[Step], t0: float = 0.0) -> list:
        """The cache status of each step, in the order of ``steps``; ``t0`` is the
        wall-clock start (its fraction of a second places the ticks).

        Entries are kept per (path, variant): the variant is the request's values of
        the fields named by the Vary of the path's last stored response, as nginx keeps
        one entry per variant (its secondary key).
        """
        order = sorted(range(len(steps)), key=lambda i: steps[i].at)
        cache: dict = {}             # (path, variant) -> _Entry
        vary: dict = {}              # path -> Vary names of its last stored response
        inflight: dict = {}          # (path, variant) -> when its fetch completes
        pending: list = []           # (done_at, key, entry or None, vary names)
        out: list = [None] * len(steps)

        def variant(path, headers, names):
            h = {k.lower(): v for k, v in headers.items()}
            return (path, tuple(h.get(n) for n in names))

        def settle(t):
            pending.sort(key=lambda p: p[0])
            while pending and pending[0][0] <= t:
                done, key, entry, names, headers = pending.pop(0)
                if entry is not None:
                    vary[key[0]] = names
                    cache[variant(key[0], headers, names)] = entry
                if inflight.get(key) == done:
                    del inflight[key]

        def fetch(path, t):
            res = _version(self.resources.get(path), t)
            done = t + (res.delay if isinstance(res, Resource) else 0.0)
            if not isinstance(res, Resource):
                return done, None, ()
            got = self.lifetime(res.headers, int(t0 + done))
            if got is None:
                return done, None, ()
            h = normalize_headers(res.headers)
            return done, _Entry(got[0], got[1], h.get("etag"), h.get("last-modified"), got[3]), got[2]

        def stale_on_error(path, t, entry, now):
            """STALE when the origin fails and stale service on error applies, else None."""
            res = _version(self.resources.get(path), t)
            if res is DOWN:
                if "error" in self.use_stale or now <= entry.valid_sec + entry.error_sec:
                    return STALE
            elif isinstance(res, Resource) and f"http_{res.status}" in self.use_stale:
                return STALE
            return None

        for i in order:
            step = steps[i]
            t = step.at
            settle(t)
            now = int(t0 + t)
            key = variant(step.path, step.headers, vary.get(step.path, ()))
            entry = cache.get(key)
            if entry is not None and now <= entry.valid_sec:
                out[i] = HIT
                continue
            busy = key in inflight
            if entry is not None:            # stale
                if busy and ("updating" in self.use_stale or now < entry.valid_sec + entry.updating_sec):
                    out[i] = UPDATING
                    continue
                stale = stale_on_error(step.path, t, entry, now)
                if stale is not None:
                    out[i] = stale
                    continue
                done, new, names = fetch(step.path, t)
                out[i] = REVALIDATED if self.revalidate and new is not None and _answers_304(entry, new) \
                    else EXPIRED
            else:
                if busy and self.lock and inflight[key] - t <= self.lock_timeout:
                    filled = [p for p in pending if p[1] == key and p[0] == inflight[key]]
                    out[i] = HIT if filled and filled[0][2] is not None else MISS
                    continue
                done, new, names = fetch(step.path, t)
                out[i] = MISS
            if key not in inflight:
                inflight[key] = done
            pending.append((done, key, new, names, step.headers))
        return out


def _answers_304(old: _Entry, new: _Entry) -> bool:
    """Does the origin (now serving ``new``) answer nginx's conditional request for
    ``old`` (If-None-Match / If-Modified-Since from the entry, RFC 9110 §13.2.2) with 304?"""
    cond = {}
    if old.etag is not None:
        cond["If-None-Match"] = old.etag
    if old.last_modified is not None:
        cond["If-Modified-Since"] = old.last_modified
    return bool(cond) and not_modified(cond, new.etag, new.last_modified)


def replay_model(resources: dict, steps: Sequence[Step], t0: float | None = None, **options) -> list:
    """The statuses :class:`NginxModel` predicts for ``steps`` (see :func:`replay`);
    ``t0`` is the wall-clock start (default: half-way through the current second)."""
    if t0 is None:
        t0 = int(time.time()) + 0.5
    return NginxModel(resources, **options).run(steps, t0)
