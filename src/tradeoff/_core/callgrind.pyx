"""Callgrind's client requests, for counting the instructions of timed calls only.

Under ``valgrind --tool=callgrind --instr-atstart=no`` nothing is counted until
:func:`start`; :func:`stop` ends the counting, so a results file holds the
instructions of the calls between them, not of Python's start-up or the
benchmark's setup. Outside valgrind, and where valgrind's headers were missing
at build time, every function is a no-op and :func:`on_valgrind` is 0. The
requests are valgrind's documented client-request macros (``valgrind/callgrind.h``:
``CALLGRIND_START_INSTRUMENTATION``, ``CALLGRIND_STOP_INSTRUMENTATION``,
``CALLGRIND_ZERO_STATS``, ``CALLGRIND_DUMP_STATS``), a few no-op instructions when not under valgrind.

>>> from tradeoff._core import callgrind
>>> callgrind.start(); callgrind.stop()
>>> callgrind.on_valgrind()
0
"""

cdef extern from *:
    """
    #if defined(__has_include)
    #  if __has_include(<valgrind/callgrind.h>)
    #    include <valgrind/callgrind.h>
    #    define TRADEOFF_HAVE_CALLGRIND 1
    #  endif
    #endif
    #ifdef TRADEOFF_HAVE_CALLGRIND
    static void tradeoff_cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
    static void tradeoff_cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
    static void tradeoff_cg_zero(void) { CALLGRIND_ZERO_STATS; }
    static void tradeoff_cg_dump(void) { CALLGRIND_DUMP_STATS; }
    static int tradeoff_cg_running(void) { return (int)RUNNING_ON_VALGRIND; }
    static int tradeoff_cg_built(void) { return 1; }
    #else
    static void tradeoff_cg_start(void) { }
    static void tradeoff_cg_stop(void) { }
    static void tradeoff_cg_zero(void) { }
    static void tradeoff_cg_dump(void) { }
    static int tradeoff_cg_running(void) { return 0; }
    static int tradeoff_cg_built(void) { return 0; }
    #endif
    """
    void tradeoff_cg_start() nogil
    void tradeoff_cg_stop() nogil
    void tradeoff_cg_zero() nogil
    void tradeoff_cg_dump() nogil
    int tradeoff_cg_running() nogil
    int tradeoff_cg_built() nogil


def start():
    """Start counting (``CALLGRIND_START_INSTRUMENTATION``)."""
    tradeoff_cg_start()


def stop():
    """Stop counting (``CALLGRIND_STOP_INSTRUMENTATION``)."""
    tradeoff_cg_stop()


def zero():
    """Zero the counts so far (``CALLGRIND_ZERO_STATS``)."""
    tradeoff_cg_zero()


def dump():
    """Write the counts so far to a numbered file beside callgrind's output file
    (``OUT.1``, ``OUT.2``, ...), then zero them (``CALLGRIND_DUMP_STATS``)."""
    tradeoff_cg_dump()


def on_valgrind():
    """How many valgrind layers this process runs under (0: none)."""
    return tradeoff_cg_running()


def built_with_requests():
    """True when valgrind's headers were there at build time (else the requests are no-ops)."""
    return bool(tradeoff_cg_built())
