"""The debug build's checks (``debug.pxd``) seen from Python, for tests.

>>> ENABLED in (True, False)
True
"""

#: True in a build made with TRADEOFF_DEBUG=1, where every DEBUG_ASSERT runs
ENABLED = bool(DEBUG_CHECKS)


def _debug_assert_selftest(bint fail):
    """Run one DEBUG_ASSERT whose condition is ``not fail``. With ``fail`` true,
    a debug build aborts the process ("selftest: the check is live" on stderr);
    a release build has no check and returns None."""
    with nogil:
        DEBUG_ASSERT(not fail, "selftest: the check is live")
