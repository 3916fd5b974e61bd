"""Start real servers (Redis, Memcached, ...) from their Debian packages, for tests and tools.

This is the one place in ``tradeoff`` that runs an outside server. Each server:

* lives in a fresh temporary folder (``tradeoff-<name>-XXXX``) that holds its data, its
  socket and its log, and is removed when the server stops (unless ``keep=True``);
* listens only on a unix socket in that folder, never on a TCP or UDP port, so that two
  runs never collide on a port and nothing is reachable from the network;
* is waited for until it answers a real request, so that the caller can use it at once;
* is stopped on every exit path: :meth:`Server.stop`, the end of a ``with`` block
  (Ctrl-C included: the ``KeyboardInterrupt`` passes through ``__exit__``), garbage
  collection and interpreter exit (``weakref.finalize``, whose hook runs at exit), and,
  on Linux, the death of the Python process itself, even by ``SIGKILL``
  (``PR_SET_PDEATHSIG``: the kernel sends the server ``SIGTERM``).

>>> with RedisServer() as server:                    # doctest: +SKIP
...     _ = server.client().set("k", "v")
...     _ = server.restart()                         # the AOF keeps the data
...     server.client().get("k")
b'v'

Nothing here imports pytest or a client library at import time; :func:`missing_notice`
gives tests the one-line reason to skip when a binary is not installed.
"""
from __future__ import annotations

import ctypes
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

__all__ = ["ServerError", "Server", "RedisServer", "MemcachedServer", "PostgresServer",
           "find_binary", "missing_notice"]

#: the Debian package that holds each binary, for the install hint
_PACKAGES = {"redis-server": "redis-server", "memcached": "memcached",
             "postgres": "postgresql", "initdb": "postgresql", "nginx": "nginx"}

_POLL_S = 0.02      # how often readiness is checked
_STOP_S = 5.0       # how long SIGTERM is given before SIGKILL
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes on Linux, with the trailing NUL

_S = TypeVar("_S", bound="Server")


class ServerError(RuntimeError):
    """A server could not be started: binary missing, bad option, early exit or timeout.

    The message is one line that names the binary and, where there is one, the last line
    of the server's log.
    """


def find_binary(name: str) -> str | None:
    """The path of the executable ``name``, or None if it is not installed.

    Looks in ``PATH``, then in ``/usr/sbin`` and ``/usr/local/sbin`` (not always in a
    user's ``PATH``), then in ``/usr/lib/postgresql/<version>/bin`` (Debian keeps the
    PostgreSQL server binaries there, off ``PATH``), newest version first.
    """
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin")
    if found:
        return found
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", p)], reverse=True)
    for folder in versions:
        found = shutil.which(name, path=folder)
        if found:
            return found
    return None


def missing_notice(binary: str) -> str | None:
    """None if ``binary`` is installed, else a one-line notice that says how to install it.

    Tests pass the notice to ``pytest.skip``.
    """
    if find_binary(binary):
        return None
    return f"{binary} not installed (apt-get install {_PACKAGES.get(binary, binary)})"


def _ask(path: Path, request: bytes, timeout: float = 0.5) -> bytes:
    """Send ``request`` over the unix socket at ``path`` and return the first reply line.

    Returns b"" when nothing answers (no socket yet, refused, closed or too slow): the
    readiness checks poll with it and need no client library.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(request)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply
    except OSError:
        return b""


def _die_with_parent_fn() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel SIGTERM the child when this process dies.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); None elsewhere. libc is loaded here, in the
    parent, so that the child does as little as possible between fork and exec. The
    signal follows the *thread* that forked: start servers from a thread that outlives
    them (the main thread, in practice).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    PR_SET_PDEATHSIG = 1

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return die_with_parent


class _State:
    """What the finalizer needs to clean up; it must not refer back to the Server."""

    __slots__ = ("popen", "dir", "keep", "stop_signal")

    def __init__(self, keep: bool) -> None:
        self.popen: subprocess.Popen[bytes] | None = None
        self.dir: Path | None = None
        self.keep = keep
        self.stop_signal = signal.SIGTERM  # the polite stop (PostgreSQL: SIGINT, its fast shutdown)


def _terminate(state: _State) -> None:
    """Stop the process, if any: SIGTERM, up to 5 s to exit, then SIGKILL. Idempotent."""
    popen, state.popen = state.popen, None
    if popen is None or popen.poll() is not None:
        return
    try:
        popen.send_signal(state.stop_signal)
        popen.wait(_STOP_S)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
    except BaseException:  # e.g. a second Ctrl-C while waiting: do not leave it running
        popen.kill()
        popen.wait()
        raise


def _shutdown(state: _State) -> None:
    """Stop the process and remove the folder unless it is kept. Idempotent."""
    try:
        _terminate(state)
    finally:
        folder, state.dir = state.dir, None
        if folder is not None and not state.keep:
            shutil.rmtree(folder, ignore_errors=True)


class Server:
    """A server process in a temporary folder, on a unix socket; a context manager.

    Subclasses set :attr:`name` (the folder prefix), :attr:`binary`, :attr:`socket_name`,
    and implement :meth:`_command` (the argv after the binary) and :meth:`_ready` (True
    once the server answers a request).

    Args:
        timeout: seconds to wait for the server to be ready before giving up.
        keep: leave the folder (data, socket, log) in place after :meth:`stop`, to look at.
    """

    name = "server"
    binary = ""
    socket_name = "server.sock"

    def __init__(self, *, timeout: float = 10.0, keep: bool = False) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        self.timeout = float(timeout)
        self._state = _State(keep)
        self._version: str | None = None
        # runs on garbage collection and, through its own atexit hook, at interpreter exit
        self._finalizer = weakref.finalize(self, _shutdown, self._state)

    # -- what subclasses provide -------------------------------------------------------

    def _command(self) -> list[str]:
        """The arguments after the binary."""
        raise NotImplementedError

    def _ready(self) -> bool:
        """True once the server answers a request on its socket."""
        raise NotImplementedError

    def _popen_kwargs(self) -> dict:
        """More keyword arguments for ``subprocess.Popen`` (e.g. ``user=``); none by default."""
        return {}

    # -- state ---------------------------------------------------------------------------

    @property
    def dir(self) -> Path:
        """The temporary folder that holds the data, the socket and the log."""
        if self._state.dir is None:
            raise ServerError(f"{self.binary} is not started")
        return self._state.dir

    @property
    def socket_path(self) -> Path:
        """The unix socket the server listens on."""
        return self.dir / self.socket_name

    @property
    def log_path(self) -> Path:
        """The server's log: its stdout and stderr (and, for Redis, its own log lines)."""
        return self.dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        """The server's process id, or None when it is not running."""
        popen = self._state.popen
        return popen.pid if popen is not None and popen.poll() is None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.pid is not None

    @property
    def version(self) -> str:
        """The server's version, from ``<binary> --version`` (e.g. ``"7.0.15"``)."""
        if self._version is None:
            out = subprocess.run([self._binary_path(), "--version"], capture_output=True,
                                 text=True, timeout=10).stdout
            found = re.search(r"(\d+\.\d+(?:\.\d+)*)", out)
            self._version = found.group(1) if found else out.strip()
        return self._version

    # -- life cycle ----------------------------------------------------------------------

    def start(self: _S) -> _S:
        """Create the folder (first time only), start the server, wait until it answers.

        Raises:
            ServerError: the binary is missing, the server exited early or was not ready
                in time. No process is left behind, and the folder is removed unless kept.
        """
        if self.running:
            return self
        binary = self._binary_path()
        if self._state.dir is None:
            self._state.dir = Path(tempfile.mkdtemp(prefix=f"tradeoff-{self.name}-"))
        if len(str(self.socket_path)) > _SUN_PATH_MAX:
            path = self.socket_path
            self.stop()
            raise ServerError(f"socket path too long for a unix socket ({path}); "
                              f"set TMPDIR to a shorter folder")
        with open(self.log_path, "ab") as log:  # append: Redis writes to it as well
            self._state.popen = subprocess.Popen(
                [binary, *self._command()], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
                preexec_fn=_die_with_parent_fn(), **self._popen_kwargs())
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Poll :meth:`_ready` every 20 ms; on early exit or timeout stop and raise."""
        popen = self._state.popen
        assert popen is not None
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                status = popen.poll()
                if status is not None:
                    problem = f"exited with status {status} before it was ready"
                    break
                if self._ready():
                    return
                if time.monotonic() > deadline:
                    problem = f"not ready after {self.timeout:g} s"
                    break
                time.sleep(_POLL_S)
        except BaseException:
            self.stop()
            raise
        last = self._last_log_line()
        self.stop()
        raise ServerError(f"{self.binary} {problem}: {last}")

    def _last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        lines = [line.strip() for line in lines if line.strip()]
        return lines[-1] if lines else "(empty log)"

    def _binary_path(self) -> str:
        path = find_binary(self.binary)
        if path is None:
            raise ServerError(missing_notice(self.binary) or f"{self.binary} not found")
        return path

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and remove the folder unless
        ``keep``. Safe to call any number of times."""
        _shutdown(self._state)

    def restart(self: _S) -> _S:
        """Stop the server and start it again in the same folder, on the same data."""
        _terminate(self._state)
        return self.start()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._state.dir or "not started"
        return f"<{type(self).__name__} pid={self.pid} {where}>"


class RedisServer(Server):
    """``redis-server`` on a unix socket, with AOF persistence by default.

    Args:
        appendonly: keep an append-only file, so that data survives :meth:`restart`.
        appendfsync: ``"always"`` (fsync every write: nothing lost on a crash),
            ``"everysec"`` or ``"no"``.
        extra_args: more ``--option value`` arguments for ``redis-server``.
        timeout, keep: as for :class:`Server`.

    RDB snapshots are off (``--save ''``) so that only the AOF decides what survives.
    """

    name = "redis"
    binary = "redis-server"
    socket_name = "redis.sock"

    def __init__(self, appendonly: bool = True, appendfsync: str = "always",
                 extra_args: Sequence[str] = (), *, timeout: float = 10.0,
                 keep: bool = False) -> None:
        if appendfsync not in ("always", "everysec", "no"):
            raise ValueError("appendfsync must be 'always', 'everysec' or 'no', "
                             f"got {appendfsync!r}")
        super().__init__(timeout=timeout, keep=keep)
        self.appendonly = bool(appendonly)
        self.appendfsync = appendfsync
        self.extra_args = list(extra_args)

    def _command(self) -> list[str]:
        return ["--port", "0", "--unixsocket", str(self.socket_path),
                "--unixsocketperm", "700", "--dir", str(self.dir), "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", self.appendfsync, "--daemonize", "no",
                "--logfile", str(self.log_path), *self.extra_args]

    def _ready(self) -> bool:
        # while Redis loads its AOF it answers -LOADING, which is not ready
        return _ask(self.socket_path, b"*1\r\n$4\r\nPING\r\n") == b"+PONG\r\n"

    def client(self, **kwargs: Any) -> Any:
        """A ``redis.Redis`` client on the socket; ``kwargs`` go to its constructor."""
        try:
            import redis
        except ImportError:
            raise ImportError("RedisServer.client() needs the redis package: "
                              "pip install redis") from None
        return redis.Redis(unix_socket_path=str(self.socket_path), **kwargs)


class MemcachedServer(Server):
    """``memcached`` on a unix socket (``-s`` turns TCP and UDP off).

    Args:
        memory_mb: the item memory limit (``-m``), in megabytes.
        threads: worker threads (``-t``; memcached's default is 4).
        timeout, keep: as for :class:`Server`.
    """

    name = "memcached"
    binary = "memcached"
    socket_name = "memcached.sock"

    def __init__(self, memory_mb: int = 64, *, threads: int = 4, timeout: float = 10.0,
                 keep: bool = False) -> None:
        if not (isinstance(memory_mb, int) and memory_mb > 0):
            raise ValueError(f"memory_mb must be an int > 0, got {memory_mb!r}")
        if not (isinstance(threads, int) and not isinstance(threads, bool) and threads > 0):
            raise ValueError(f"threads must be an int > 0, got {threads!r}")
        super().__init__(timeout=timeout, keep=keep)
        self.memory_mb = memory_mb
        self.threads = threads

    def _command(self) -> list[str]:
        args = ["-s", str(self.socket_path), "-a", "0700", "-m", str(self.memory_mb),
                "-U", "0", "-t", str(self.threads)]
        if os.geteuid() == 0:  # memcached refuses to run as root unless told which user
            args += ["-u", "root"]
        return args

    def _ready(self) -> bool:
        return _ask(self.socket_path, b"version\r\n").startswith(b"VERSION ")

    def client(self, **kwargs: Any) -> Any:
        """A ``pymemcache.client.base.Client`` on the socket; ``kwargs`` go to it."""
        try:
            from pymemcache.client.base import Client
        except ImportError:
            raise ImportError("MemcachedServer.client() needs the pymemcache package: "
                              "pip install pymemcache") from None
        return Client(str(self.socket_path), **kwargs)


def _pg_ready(path: Path, user: str, timeout: float = 0.5) -> bool:
    """True when the PostgreSQL server at the unix socket ``path`` accepts a session.

    Sends a protocol 3.0 StartupMessage and reads the first reply byte: ``R`` (an
    authentication request, or AuthenticationOk under ``trust``) means the server takes
    sessions; ``E`` (e.g. "the database system is starting up") or nothing means not yet.
    (PostgreSQL documentation, "Frontend/Backend Protocol", 55.2.1 and 55.7.)
    """
    body = (196608).to_bytes(4, "big") + b"user\0" + user.encode() + b"\0database\0postgres\0\0"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall((len(body) + 4).to_bytes(4, "big") + body)
            return sock.recv(1) == b"R"
    except OSError:
        return False


class PostgresServer(Server):
    """A throwaway PostgreSQL cluster: ``initdb`` into the temporary folder, then
    ``postgres`` listening only on a unix socket in that folder (``listen_addresses=''``,
    ``unix_socket_directories=<folder>``), ``trust`` authentication for the one user.

    The binaries come from ``PATH`` or ``/usr/lib/postgresql/<version>/bin`` (the newest).
    ``initdb`` and ``postgres`` refuse to run as root; when this process is root they
    run as the ``postgres`` system user (created by the Debian package), which is given
    the folder. The stop is SIGINT, PostgreSQL's fast shutdown (SIGTERM, its "smart"
    shutdown, would wait for every client to disconnect), then SIGKILL after 5 s.

    Args:
        fsync: PostgreSQL's ``fsync`` (off makes a faster but crash-unsafe cluster; the
            cluster is thrown away anyway, but off is not what production runs).
        settings: more ``name=value`` server settings (``-c``), e.g. ``{"shared_buffers": "32MB"}``.
        timeout, keep: as for :class:`Server`.

    >>> with PostgresServer() as pg:                      # doctest: +SKIP
    ...     with pg.connect() as conn:
    ...         conn.execute("select 1").fetchone()
    (1,)
    """

    name = "postgres"
    binary = "postgres"
    port = 5432  # names the socket file (.s.PGSQL.5432) only: no TCP port is opened
    socket_name = f".s.PGSQL.{port}"

    def __init__(self, fsync: bool = True, settings: dict | None = None, *, timeout: float = 30.0,
                 keep: bool = False) -> None:
        super().__init__(timeout=timeout, keep=keep)
        self.fsync = bool(fsync)
        self.settings = {str(k): str(v) for k, v in (settings or {}).items()}
        self._state.stop_signal = signal.SIGINT

    @property
    def user(self) -> str:
        """The database user (and, when this process is root, the system user)."""
        return "postgres" if os.geteuid() == 0 else _current_user()

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def dsn(self) -> str:
        """A libpq connection string for the cluster's ``postgres`` database."""
        return f"host={self.dir} port={self.port} user={self.user} dbname=postgres"

    def _run_as(self) -> dict:
        """``user=``/``group=`` for subprocess when root: the ``postgres`` system user."""
        if os.geteuid() != 0:
            return {}
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerError("postgres refuses to run as root, and there is no postgres system user "
                              "(apt-get install postgresql creates it)") from None
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _popen_kwargs(self) -> dict:
        return self._run_as()

    def _command(self) -> list[str]:
        args = ["-D", str(self.data_dir), "-p", str(self.port), "-k", str(self.dir),
                "-c", "listen_addresses=", "-c", f"fsync={'on' if self.fsync else 'off'}"]
        for k, v in self.settings.items():
            args += ["-c", f"{k}={v}"]
        return args

    def _ready(self) -> bool:
        return _pg_ready(self.socket_path, self.user)

    def start(self) -> "PostgresServer":
        """``initdb`` on the first start (then the data is reused by :meth:`restart`),
        start ``postgres``, wait until it takes sessions.

        Raises:
            ServerError: a binary is missing, root without a postgres user, initdb failed,
                the server exited early or was not ready in time. Nothing is left behind.
        """
        if self.running:
            return self
        self._binary_path()
        initdb = find_binary("initdb")
        if initdb is None:
            raise ServerError(missing_notice("initdb") or "initdb not found")
        run_as = self._run_as()
        if self._state.dir is None:
            self._state.dir = Path(tempfile.mkdtemp(prefix=f"tradeoff-{self.name}-",
                                                    dir=_reachable_tmp(run_as.get("user"))))
        try:
            if run_as:
                os.chown(self.dir, run_as["user"], run_as["group"])
            if not (self.data_dir / "PG_VERSION").exists():
                done = subprocess.run(
                    [initdb, "-D", str(self.data_dir), "-U", self.user, "--auth=trust", "-E", "UTF8",
                     "--locale=C", "--no-sync"], stdin=subprocess.DEVNULL, capture_output=True,
                    text=True, timeout=max(self.timeout, 60.0), cwd=self.dir,
                    preexec_fn=_die_with_parent_fn(), **run_as)
                if done.returncode != 0:
                    lines = [x.strip() for x in (done.stdout + done.stderr).splitlines() if x.strip()]
                    raise ServerError(f"initdb exited with status {done.returncode}: "
                                      f"{lines[-1] if lines else '(no output)'}")
            if run_as:  # the log is created by the parent; the server only inherits it
                self.log_path.touch()
        except BaseException:
            self.stop()
            raise
        super().start()
        return self

    def connect(self, **kwargs: Any) -> Any:
        """A ``psycopg.Connection`` to the ``postgres`` database; ``kwargs`` go to
        ``psycopg.connect`` (e.g. ``autocommit=True``)."""
        try:
            import psycopg
        except ImportError:
            raise ImportError("PostgresServer.connect() needs psycopg: pip install 'psycopg[binary]'") from None
        return psycopg.connect(self.dsn, **kwargs)


def _reachable_tmp(uid: int | None) -> str | None:
    """The folder for a temporary folder that user ``uid`` can reach: the usual one
    (``tempfile.gettempdir()``) when every folder above it lets others through (or
    ``uid`` is None: no other user), else ``/tmp`` (a root-only ``TMPDIR``, such as
    pytest's ``/tmp/pytest-of-root``, would stop the postgres user at its door)."""
    if uid is None:
        return None
    import stat

    base = Path(tempfile.gettempdir()).resolve()
    for folder in (base, *base.parents):
        st = folder.stat()
        if not (st.st_mode & stat.S_IXOTH or st.st_uid == uid):
            return "/tmp"
    return None


def _current_user() -> str:
    import getpass

    return getpass.getuser()
