"""DEBUG_ASSERT (src/tradeoff/_core/debug.pxd): live in the debug build, absent in
the release build.

A failed check aborts the process (the kernels are noexcept nogil: no exception
can leave them), so every failing case runs in a subprocess.
"""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tradeoff._core import debug
from tradeoff.cache._impl import BUILD

DEBUG = BUILD == "debug"


def _run(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONFAULTHANDLER=""))


def test_enabled_matches_the_build():
    assert debug.ENABLED is DEBUG


def test_a_passing_check_does_nothing():
    assert debug._debug_assert_selftest(False) is None


def test_a_failing_check_aborts_only_in_the_debug_build():
    r = _run("""
        from tradeoff._core.debug import _debug_assert_selftest
        _debug_assert_selftest(True)
        print("survived")
    """)
    if DEBUG:
        assert r.returncode == -signal.SIGABRT, (r.returncode, r.stderr)
        assert "tradeoff: debug check failed: selftest: the check is live" in r.stderr
        assert "survived" not in r.stdout
    else:
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "survived"
        assert "debug check failed" not in r.stderr


@pytest.mark.skipif(not DEBUG, reason="the kernels check their invariants only in a debug build")
@pytest.mark.parametrize("policy", ["lru", "sieve", "clock", "s3fifo", "wtinylfu"])
def test_a_kernel_invariant_is_checked(policy):
    # insert() of a key already resident breaks the engine contract (_engine.pxd):
    # eng_admit's check names the invariant
    r = _run(f"""
        from tradeoff.cache._replay import make_engine
        e = make_engine({policy!r}, 4)
        e._insert(1)
        e._insert(1)
        print("survived")
    """)
    assert r.returncode == -signal.SIGABRT, (r.returncode, r.stderr)
    assert "eng_admit: the key admitted is not already in the index" in r.stderr
    assert "survived" not in r.stdout

