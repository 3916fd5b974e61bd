"""The real-server helper: Redis and Memcached start, answer, keep data, and always stop.

Each test skips with a one-line notice when its binary is not installed. The checks on
processes and sockets read ``/proc``, so they need Linux.
"""
import gc
import shutil
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tradeoff.harness.servers import (MemcachedServer, RedisServer, ServerError,
                                      find_binary, missing_notice)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="needs Linux /proc")


def require(binary):
    """The binary's path, or skip the test with a one-line notice."""
    notice = missing_notice(binary)
    if notice:
        pytest.skip(notice)
    return find_binary(binary)


@pytest.fixture
def redis_bin():
    return require("redis-server")


@pytest.fixture
def memcached_bin():
    return require("memcached")


@pytest.fixture
def tmp_home(tmp_path, monkeypatch):
    """Make the servers' temporary folders inside ``tmp_path``, to see what is left."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def alive(pid):
    """True if ``pid`` is a running process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid, seconds=10.0):
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def children(comm):
    """The live child processes of this process whose command name is ``comm``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        state, ppid = text.rsplit(")", 1)[1].split()[:2]
        if name == comm and int(ppid) == os.getpid() and state != "Z":
            found.add(int(stat.parent.name))
    return found


def inet_sockets(pid):
    """The TCP/UDP (v4 and v6) sockets that process ``pid`` holds, as table rows."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    rows = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path("/proc/net") / table
        if path.exists():
            for line in path.read_text().splitlines()[1:]:
                if line.split()[9] in inodes:
                    rows.append(f"{table}: {line.strip()}")
    return rows


# -- Redis ---------------------------------------------------------------------------


def test_redis_starts_answers_and_stops(redis_bin, tmp_home):
    with RedisServer() as server:
        pid, folder = server.pid, server.dir
        assert alive(pid) and folder.parent == tmp_home
        assert folder.name.startswith("tradeoff-redis-")
        assert server.socket_path.is_socket()
        assert server.socket_path.stat().st_mode & 0o777 == 0o700
        db = server.client()
        assert db.ping() is True
        db.set("k", "v")
        assert db.get("k") == b"v"
        assert server.version[0].isdigit() and server.version in db.info()["redis_version"]
    assert server.pid is None and not server.running
    assert not alive(pid)
    assert not folder.exists()


def test_redis_listens_on_no_port(redis_bin):
    with RedisServer() as server:
        assert server.client().config_get("port") == {"port": "0"}
        assert inet_sockets(server.pid) == []


def test_redis_restart_keeps_data_with_aof(redis_bin):
    with RedisServer(appendonly=True, appendfsync="always") as server:
        server.client().set("k", "v")
        pid, folder = server.pid, server.dir
        assert server.restart() is server
        assert server.pid != pid and not alive(pid)
        assert server.dir == folder
        assert server.client().get("k") == b"v"


def test_redis_restart_loses_data_without_aof(redis_bin):
    with RedisServer(appendonly=False) as server:
        server.client().set("k", "v")
        server.restart()
        assert server.client().get("k") is None


def test_stop_is_idempotent(redis_bin, tmp_home):
    server = RedisServer()
    server.stop()  # before start: nothing to do
    server.start()
    pid = server.pid
    server.stop()
    server.stop()
    assert server.pid is None and not alive(pid)
    assert list(tmp_home.iterdir()) == []
    with pytest.raises(ServerError, match="not started"):
        server.dir


def test_keep_leaves_the_folder_and_log(redis_bin):
    server = RedisServer(keep=True).start()
    folder = server.dir
    server.stop()
    try:
        assert folder.is_dir()
        assert "ready to exit" in (folder / "redis.log").read_text()
    finally:
        shutil.rmtree(folder)


def test_garbage_collection_stops_the_server(redis_bin, tmp_home):
    server = RedisServer().start()
    pid = server.pid
    del server
    gc.collect()
    assert not alive(pid)
    assert list(tmp_home.iterdir()) == []


def test_bad_option_is_a_one_line_error_and_leaves_nothing(redis_bin, tmp_home):
    before = children("redis-server")
    server = RedisServer(extra_args=["--no-such-option", "x"])
    with pytest.raises(ServerError) as info:
        server.start()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("redis-server exited with status")
    assert not message.endswith("(empty log)")  # the last log line says what went wrong
    assert server.pid is None
    assert children("redis-server") == before
    assert list(tmp_home.iterdir()) == []


def test_timeout_is_a_one_line_error_and_leaves_nothing(redis_bin, tmp_home):
    class NeverReady(RedisServer):
        def _ready(self):
            return False

    before = children("redis-server")
    with pytest.raises(ServerError, match=r"^redis-server not ready after 0\.3 s: .+$"):
        NeverReady(timeout=0.3).start()
    assert children("redis-server") == before
    assert list(tmp_home.iterdir()) == []


def test_missing_binary():
    class Missing(RedisServer):
        binary = "tradeoff-no-such-server"

    notice = missing_notice("tradeoff-no-such-server")
    assert notice == ("tradeoff-no-such-server not installed "
                      "(apt-get install tradeoff-no-such-server)")
    assert find_binary("tradeoff-no-such-server") is None
    with pytest.raises(ServerError, match="^tradeoff-no-such-server not installed"):
        Missing().start()
    assert missing_notice(sys.executable) is None
    assert find_binary(sys.executable) == sys.executable


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="appendfsync .* got 'sometimes'"):
        RedisServer(appendfsync="sometimes")
    with pytest.raises(ValueError, match="timeout must be > 0, got 0"):
        RedisServer(timeout=0)
    with pytest.raises(ValueError, match="memory_mb .* got 0"):
        MemcachedServer(memory_mb=0)


CHILD = textwrap.dedent("""
    import time
    from tradeoff.harness.servers import RedisServer
    with RedisServer() as server:
        print(server.pid, server.dir, flush=True)
        time.sleep(60)
""")


def run_child():
    """A Python process that starts Redis in a with-block and sleeps; its pid and folder."""
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if not line:
        child.wait()
        pytest.fail(f"child did not start Redis: {child.stderr.read()}")
    pid, folder = line.split()
    return child, int(pid), Path(folder)


def test_ctrl_c_in_a_with_block_stops_the_server(redis_bin):
    child, pid, folder = run_child()
    try:
        assert alive(pid)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:        # the test failed: the server goes with its parent
            child.kill()
            child.communicate(timeout=30)
    assert child.returncode != 0 and "KeyboardInterrupt" in err
    assert not alive(pid)
    assert not folder.exists()


def test_hard_kill_of_python_stops_the_server(redis_bin):
    child, pid, folder = run_child()
    try:
        child.kill()  # SIGKILL: no Python cleanup runs; the kernel's PDEATHSIG does it
        child.communicate(timeout=30)
        assert wait_gone(pid)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- Memcached -----------------------------------------------------------------------


def test_memcached_set_get_and_stop(memcached_bin, tmp_home):
    with MemcachedServer(memory_mb=16) as server:
        pid, folder = server.pid, server.dir
        assert folder.name.startswith("tradeoff-memcached-")
        assert server.socket_path.is_socket()
        assert inet_sockets(pid) == []
        assert server.version[0].isdigit()
        db = server.client()
        assert db.set("k", b"v") is True
        assert db.get("k") == b"v"
        assert int(db.stats("settings")[b"maxbytes"]) == 16 * 2**20
        db.close()
    assert not alive(pid)
    assert not folder.exists()
    server.stop()  # idempotent here too
