# Checks that exist only in the debug build (TRADEOFF_DEBUG=1 at build time, which
# makes setup.py define TRADEOFF_DEBUG_BUILD=1). In the release build
# DEBUG_ASSERT(cond, msg) expands to nothing: cond is not even evaluated.
#
# DEBUG_ASSERT runs inside noexcept nogil kernels, where no exception can
# propagate, so a failed check prints "tradeoff: debug check failed: <msg>" on
# stderr and aborts the process (SIGABRT; a test observes it in a subprocess).
# msg names the invariant. Cython evaluates compound conditions (and/or, calls)
# into temporaries before the macro: keep each DEBUG_ASSERT one plain comparison,
# and put anything costlier (a lookup, a loop) under ``if DEBUG_CHECKS:``, which
# the C compiler removes from the release build as dead code.
cdef extern from *:
    """
    #ifndef TRADEOFF_DEBUG_BUILD
    #define TRADEOFF_DEBUG_BUILD 0
    #endif
    #if TRADEOFF_DEBUG_BUILD
    #include <stdio.h>
    #include <stdlib.h>
    #define TRADEOFF_DEBUG_ASSERT(cond, msg) do { if (!(cond)) { \\
        fprintf(stderr, "tradeoff: debug check failed: %s\\n", (msg)); \\
        fflush(stderr); abort(); } } while (0)
    #else
    /* nothing runs: sizeof does not evaluate cond; naming cond and msg only
       keeps the compiler from warning about what they alone use */
    #define TRADEOFF_DEBUG_ASSERT(cond, msg) ((void)sizeof(!(cond)), (void)(msg))
    #endif
    """
    # 1 in the debug build, 0 in the release build (a C constant: `if DEBUG_CHECKS:`
    # blocks vanish from the release build)
    const bint DEBUG_CHECKS "TRADEOFF_DEBUG_BUILD"
    void DEBUG_ASSERT "TRADEOFF_DEBUG_ASSERT"(bint cond, const char* msg) noexcept nogil
