"""A pure-Python linearizability checker: the reference the Cython search is tested
against, written for plainness, not speed.

Wing and Gong's search (J. Parallel and Distributed Computing 17, 1993) with Lowe's
cache of (linearized set, state) pairs ("Testing for linearizability", 2017), over
the same reading of a history as tradeoff.consistency: failed operations are left out;
an operation of unknown outcome has no return entry and need not be linearized; at
equal times a call entry comes before a return entry (the intervals overlap), except
that one process's operations keep their order (an operation that returns at the
instant its process's next one is invoked returns first).
Each key is checked on its own. The register semantics are restated here, not
imported, so that the two checkers share no model code.
"""
from __future__ import annotations


def register_step(state, op):
    """read / write / cas on one register (Jepsen's conventions: an ok cas swapped,
    unless its result is the boolean False)."""
    if op.f in ("read", "get"):
        return (op.status != "ok" or op.result == state), state
    if op.f in ("write", "put"):
        return True, op.value
    if op.f == "cas":
        expected, new = op.value
        if op.status != "ok":
            swapped = None
        elif isinstance(op.result, bool):
            swapped = op.result
        else:
            swapped = True
        if state == expected:
            return swapped is not False, new
        return swapped is not True, state
    raise ValueError(f"register: unknown operation {op.f}")


def _program_order_at_ties(entries, ops):
    """Reorder the entries of each instant: repeatedly take, among the entries that
    nothing still waiting must precede (a return waits for its own call; a call
    waits for the return of every earlier operation of its process), the first
    call; else the first return that a waiting call needs; else the first return."""
    out, i = [], 0
    while i < len(entries):
        j = i
        while j < len(entries) and entries[j][0] == entries[i][0]:
            j += 1
        waiting = list(entries[i:j])
        def blocked(e):
            _, is_ret, k = e
            if is_ret:
                return any(not w[1] and w[2] == k for w in waiting)
            return any(w[1] and w[2] < k and ops[w[2]].process == ops[k].process for w in waiting)

        def needed(e):
            return any(not w[1] and w[2] > e[2] and ops[w[2]].process == ops[e[2]].process for w in waiting)

        while waiting:
            free = [e for e in waiting if not blocked(e)]
            if not free:
                raise AssertionError("no entry can go first")
            pick = next((e for e in free if not e[1]), None) or next((e for e in free if needed(e)), free[0])
            out.append(pick)
            waiting.remove(pick)
        i = j
    return out


def linearizable(ops, step=register_step, init=None) -> bool:
    """Whether the operations of one key (none failed) are linearizable."""
    entries = []
    for i, op in enumerate(ops):
        entries.append((op.call, 0, i))
        if op.status == "ok":
            entries.append((op.ret, 1, i))
    entries.sort()
    entries = _program_order_at_ties(entries, ops)
    n = len(entries)
    head = n
    nxt = list(range(1, n + 1)) + [0 if n else head]
    prv = [head] + list(range(0, n - 1)) + [n - 1 if n else head]
    if n:
        nxt[head] = 0
        prv[head] = n - 1
    call_entry = {}
    ret_entry = {}
    for e, (_, is_ret, i) in enumerate(entries):
        (ret_entry if is_ret else call_entry)[i] = e

    def unlink(e):
        nxt[prv[e]] = nxt[e]
        prv[nxt[e]] = prv[e]

    def relink(e):
        nxt[prv[e]] = e
        prv[nxt[e]] = e

    remaining = sum(1 for op in ops if op.status == "ok")
    linearized = 0
    seen = set()
    stack = []
    state = init
    e = nxt[head]
    while remaining:
        _, is_ret, i = entries[e]
        if not is_ret:
            ok, new = step(state, ops[i])
            if ok:
                lin = linearized | (1 << i)
                if (lin, new) not in seen:
                    seen.add((lin, new))
                    stack.append((i, state))
                    state, linearized = new, lin
                    unlink(e)
                    if i in ret_entry:
                        unlink(ret_entry[i])
                        remaining -= 1
                    e = nxt[head]
                    continue
            e = nxt[e]
        else:
            if not stack:
                return False
            i, state = stack.pop()
            linearized &= ~(1 << i)
            if i in ret_entry:
                relink(ret_entry[i])
                remaining += 1
            relink(call_entry[i])
            e = nxt[call_entry[i]]
    return True


def check(history, step=register_step, init=None) -> str:
    """``"ok"`` or ``"violation"`` for a whole history, key by key."""
    keys: dict = {}
    for op in history:
        if op.status == "fail":
            continue
        keys.setdefault(op.key, []).append(op)
    for ops in keys.values():
        if not linearizable(ops, step, init):
            return "violation"
    return "ok"
