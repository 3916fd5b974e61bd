"""PostgresServer: a throwaway cluster on a unix socket in a temporary folder, run as
the postgres system user when we are root, stopped (fast shutdown) on every exit path."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tradeoff.harness.servers import PostgresServer, missing_notice

pytestmark = pytest.mark.skipif(bool(missing_notice("postgres") or missing_notice("initdb")),
                                reason=str(missing_notice("postgres") or missing_notice("initdb")))


def _owner(pid: int) -> int:
    return os.stat(f"/proc/{pid}").st_uid


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split()[2] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_start_query_stop_with_a_client_connected():
    server = PostgresServer(fsync=False).start()
    folder, pid = server.dir, server.pid
    try:
        assert server.socket_path.exists() and str(server.socket_path).startswith(str(folder))
        conn = server.connect(autocommit=True)
        assert conn.execute("show listen_addresses").fetchone() == ("",)
        assert conn.execute("show unix_socket_directories").fetchone() == (str(folder),)
        if os.geteuid() == 0:       # initdb and postgres refuse root: they run as postgres
            import pwd

            assert _owner(pid) == pwd.getpwnam("postgres").pw_uid
            assert conn.execute("select current_user").fetchone() == ("postgres",)
    finally:
        server.stop()               # the client is still connected: fast shutdown ends it
    assert _gone(pid) and not folder.exists() and not server.running
    conn.close()


def test_restart_keeps_the_data():
    with PostgresServer(fsync=False) as server:
        with server.connect(autocommit=True) as c:
            c.execute("create table t (x int)")
            c.execute("insert into t values (7)")
        server.restart()
        with server.connect() as c:
            assert c.execute("select x from t").fetchall() == [(7,)]


def test_stopped_when_the_parent_is_killed(tmp_path):
    code = ("import sys, time; from tradeoff.harness.servers import PostgresServer; "
            "s = PostgresServer(fsync=False).start(); print(s.pid, s.dir, flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid, folder = child.stdout.readline().split()
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert _gone(int(pid)), "postgres outlived its parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    import shutil

    shutil.rmtree(folder, ignore_errors=True)   # a SIGKILLed parent cannot remove it


def test_keyboard_interrupt_in_the_with_block_stops_it():
    with pytest.raises(KeyboardInterrupt):
        with PostgresServer(fsync=False) as server:
            pid, folder = server.pid, server.dir
            raise KeyboardInterrupt
    assert _gone(pid) and not folder.exists()
