"""Sequential specifications for the linearizability checker.

A model is an initial state and a step: ``step(state, op) -> (ok, new_state)``, where
``ok`` says whether the object, in ``state``, could have done ``op`` with the result the
history shows; states must be hashable (the checker caches them). ``op`` is an
:class:`~tradeoff.consistency.history.Operation`; a step may look only at ``op.f``,
``op.key``, ``op.value`` (the argument), ``op.result`` and ``op.status``: when the
status is ``"unknown"`` the result is unknown, and the step must accept any result
(the checker decides whether, and when, the operation took effect).

The built-in models, and how the checker runs them:

========= ===================================================== ==========================
model     operations (argument -> result)                       search
========= ===================================================== ==========================
register  read (-> value), write v, cas [expected new]           Cython (int64 value ids)
kv        get/read (-> value), put/write v, cas, append x; each  Cython per key; append's
          key on its own (P-compositionality)                   new values from Python
set       add x, remove x (-> optionally whether it changed      Cython per element (a 0/1
          the set), contains x (-> bool), read (-> all)          register) unless there is
                                                                a ``read``; then Python
queue     enqueue x, dequeue (-> x, or nil when empty)          Python states (tuples)
counter   add n, read (-> value)                                Cython (int64 sum)
========= ===================================================== ==========================

"Python" means the same Cython search, with the model's step computed in Python once
per distinct (state, operation) pair and interned (exact, no hashing of states in C).
A user-defined :class:`Model` always runs that way.

Jepsen's conventions hold: a ``cas`` that completed ok swapped (a boolean result, when
given, says whether it swapped); a failed operation did not happen and is dropped
before the model sees it. A register and every key of a kv store start at ``None``
(Jepsen's nil); a counter at 0; a set and a queue empty.

``append x`` (kv): strings concatenate; a list (tuple) gets x appended, or extended by
it when x is itself a list; appending to a missing key starts the string x or the
list [x].
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

__all__ = ["Counter", "KV", "MODELS", "Model", "Queue", "Register", "Set", "get_model"]


class Model:
    """A sequential specification: ``Model(init=0, step=fn)``.

    ``step(state, op) -> (ok, new_state)``; ``ops`` (optional) lists the operation
    names the model knows, and the checker rejects any other (naming its line);
    ``partition(op)`` (optional) gives the key of the independent sub-object an
    operation acts on: the checker then checks each key's operations on their own,
    which is sound only when the object is a product of independent parts (Horn and
    Kroening, "Faster linearizability checking via P-compositionality", FORTE 2015).

    Each distinct (state, operation) pair costs one call of ``step``.

    >>> from tradeoff.consistency.history import Operation
    >>> inc = Model(init=0, step=lambda s, op: (True, s + 1), ops=("inc",), name="incr")
    >>> inc.step(inc.init, Operation(0, "inc"))
    (True, 1)
    """

    native: Optional[str] = None          # how the checker encodes it in C (built-ins)

    def __init__(self, init: Any = None, step: Optional[Callable] = None, ops: Optional[Iterable[str]] = None,
                 name: str = "custom", partition: Optional[Callable] = None):
        if step is not None:
            if not callable(step):
                raise TypeError(f"step must be callable, got {type(step).__name__}")
            self._step = step
        if partition is not None and not callable(partition):
            raise TypeError(f"partition must be callable, got {type(partition).__name__}")
        try:
            hash(init)
        except TypeError:
            raise TypeError(f"the initial state must be hashable, got {type(init).__name__}") from None
        self.init = init
        self.ops = frozenset(ops) if ops is not None else None
        self.name = name
        self._partition = partition

    def step(self, state, op):
        step = getattr(self, "_step", None)
        if step is None:
            raise NotImplementedError(f"the {self.name} model has no step")
        return step(state, op)

    def check_op(self, op) -> None:
        """ValueError naming the line when the model does not know op."""
        if self.ops is not None and op.f not in self.ops:
            raise ValueError(f"{op.where()}: unknown operation {op.f!r} for the {self.name} model "
                             f"(one of {', '.join(sorted(self.ops))})")

    def check_ops(self, ops) -> None:
        """check_op on every operation (ValueError naming the line of the first bad one)."""
        if type(self).check_op is Model.check_op:
            if self.ops is None:
                return
            names = {op.f for op in ops}
            if names <= self.ops:
                return
        for op in ops:
            self.check_op(op)

    def partition(self, ops: list) -> list:
        """The independent parts: a list of (key, operations)."""
        if self._partition is None:
            return [(None, list(ops))]
        if self._partition is _by_key:
            keys = {op.key for op in ops}
            if len(keys) <= 1:
                return [(next(iter(keys), None), list(ops))]
        parts: dict = {}
        for op in ops:
            parts.setdefault(self._partition(op), []).append(op)
        return list(parts.items())

    def inert(self, op) -> bool:
        """Whether op, with an unknown outcome, can be dropped: it changes nothing and
        constrains nothing (a read that timed out)."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model {self.name!r}>"


def _by_key(op):
    return op.key


def _cas_swapped(op) -> Optional[bool]:
    """Whether a cas swapped: None when unknown; a boolean result says; else an ok
    cas swapped (Jepsen echoes the argument)."""
    if op.status != "ok":
        return None
    if isinstance(op.result, bool):
        return op.result
    return True


def _cas_pair(op):
    v = op.value
    if not isinstance(v, tuple) or len(v) != 2:
        raise ValueError(f"{op.where()}: cas needs [expected new], got {v!r}")
    return v


def _hashable(op, *values) -> None:
    for v in values:
        try:
            hash(v)
        except TypeError:
            raise ValueError(f"{op.where()}: {op.f} value {v!r} is not hashable") from None


class Register(Model):
    """A read/write/compare-and-set register starting at ``init`` (None: Jepsen's nil).
    Operations with different keys act on different registers.

    >>> from tradeoff.consistency.history import Operation
    >>> r = Register()
    >>> r.step(None, Operation(0, "write", 3)), r.step(3, Operation(0, "cas", (3, 4)))
    ((True, 3), (True, 4))
    >>> r.step(4, Operation(0, "read", result=3))
    (False, 4)
    """
    native = "register"
    READ = ("read",)
    WRITE = ("write",)

    def __init__(self, init=None, name="register"):
        super().__init__(init=init, ops=self.READ + self.WRITE + ("cas",), name=name, partition=_by_key)

    def check_op(self, op) -> None:
        # unhashable values are reported when encoded
        if op.f not in self.ops:
            super().check_op(op)
        if op.f == "cas":
            _cas_pair(op)

    def check_ops(self, ops) -> None:
        if {op.f for op in ops} <= self.ops:
            for op in ops:
                if op.f == "cas":
                    _cas_pair(op)
            return
        for op in ops:
            self.check_op(op)

    def inert(self, op) -> bool:
        return op.status == "unknown" and op.f in self.READ

    def step(self, state, op):
        f = op.f
        if f in self.READ:
            return (op.status != "ok" or op.result == state), state
        if f in self.WRITE:
            return True, op.value
        if f == "cas":
            expected, new = _cas_pair(op)
            swapped = _cas_swapped(op)
            if state == expected:
                return swapped is not False, new
            return swapped is not True, state
        return self.append(state, op)

    def append(self, state, op):
        raise ValueError(f"{op.where()}: unknown operation {op.f!r} for the {self.name} model")


def append_value(state, x):
    """The value after appending x to state (see the module docstring); None when x
    cannot be appended to state."""
    if state is None:
        return x if isinstance(x, (str, bytes, tuple)) else (x,)
    if isinstance(state, tuple):
        return state + (x if isinstance(x, tuple) else (x,))
    if isinstance(state, str) and isinstance(x, str):
        return state + x
    if isinstance(state, bytes) and isinstance(x, bytes):
        return state + x
    return None


class KV(Register):
    """A key-value store: one register per key (get, put, cas, append), each key
    checked on its own.

    >>> from tradeoff.consistency.history import Operation
    >>> KV().step("ab", Operation(0, "append", "c", key="k"))
    (True, 'abc')
    """
    native = "kv"
    READ = ("get", "read")
    WRITE = ("put", "write")

    def __init__(self, init=None, name="kv"):
        Model.__init__(self, init=init, ops=self.READ + self.WRITE + ("cas", "append"), name=name,
                       partition=_by_key)

    def append(self, state, op):
        new = append_value(state, op.value)
        if new is None:
            return False, state
        return True, new


class Set(Model):
    """A set of hashable elements: add x, remove x, contains x, read.

    ``add`` and ``remove`` may return a boolean (whether the set changed) or anything
    else (not checked); ``contains`` returns a boolean; ``read`` returns every element.
    Without ``read`` operations the checker takes each element on its own.

    >>> from tradeoff.consistency.history import Operation
    >>> Set().step(frozenset({1}), Operation(0, "add", 1, result=False))
    (True, frozenset({1}))
    """
    native = "set"

    def __init__(self, init=frozenset(), name="set"):
        super().__init__(init=frozenset(init), ops=("add", "remove", "contains", "read"), name=name)

    def check_op(self, op) -> None:
        super().check_op(op)
        if op.f != "read":
            _hashable(op, op.value)
        if op.status == "ok":
            if op.f == "contains" and not isinstance(op.result, bool):
                raise ValueError(f"{op.where()}: contains must return true or false, got {op.result!r}")
            if op.f == "read":
                try:
                    frozenset(op.result or ())
                except TypeError:
                    raise ValueError(f"{op.where()}: read must return a collection, got {op.result!r}") from None

    def inert(self, op) -> bool:
        return op.status == "unknown" and op.f in ("contains", "read")

    def step(self, state, op):
        f = op.f
        known = op.status == "ok"
        r = op.result if known and isinstance(op.result, bool) else None
        if f == "add":
            return (r is None or r == (op.value not in state)), state | {op.value}
        if f == "remove":
            return (r is None or r == (op.value in state)), state - {op.value}
        if f == "contains":
            return (not known or op.result == (op.value in state)), state
        return (not known or frozenset(op.result or ()) == state), state

    def partition(self, ops):
        if any(op.f == "read" for op in ops):
            return [(None, list(ops))]
        parts: dict = {}
        for op in ops:
            parts.setdefault(op.value, []).append(op)
        return list(parts.items())


class Queue(Model):
    """A FIFO queue: enqueue x; dequeue returns the head, or nil when empty.

    >>> from tradeoff.consistency.history import Operation
    >>> Queue().step((1, 2), Operation(0, "dequeue", result=1))
    (True, (2,))
    """
    native = None

    def __init__(self, init=(), name="queue"):
        super().__init__(init=tuple(init), ops=("enqueue", "dequeue"), name=name)

    def check_op(self, op) -> None:
        super().check_op(op)
        _hashable(op, op.value if op.f == "enqueue" else op.result)

    def step(self, state, op):
        if op.f == "enqueue":
            return True, state + (op.value,)
        if op.status != "ok":                  # unknown: took the head if there was one
            return True, state[1:]
        if op.result is None:
            return not state, state
        return bool(state) and state[0] == op.result, state[1:]


class Counter(Model):
    """A counter: add n (n may be negative), read returns the sum.

    >>> from tradeoff.consistency.history import Operation
    >>> Counter().step(2, Operation(0, "add", 3))
    (True, 5)
    """
    native = "counter"

    def __init__(self, init=0, name="counter"):
        super().__init__(init=init, ops=("add", "read"), name=name)

    def check_op(self, op) -> None:
        super().check_op(op)
        if op.f == "add" and (isinstance(op.value, bool) or not isinstance(op.value, int)):
            raise ValueError(f"{op.where()}: add needs an integer, got {op.value!r}")
        if op.f == "read" and op.status == "ok" and (isinstance(op.result, bool) or not isinstance(op.result, int)):
            raise ValueError(f"{op.where()}: read must return an integer, got {op.result!r}")

    def inert(self, op) -> bool:
        return op.status == "unknown" and op.f == "read"

    def step(self, state, op):
        if op.f == "add":
            return True, state + op.value
        return (op.status != "ok" or op.result == state), state


MODELS = {"register": Register, "kv": KV, "set": Set, "queue": Queue, "counter": Counter}


def get_model(model) -> Model:
    """A model from its name (``"register"``, ``"kv"``, ``"set"``, ``"queue"``,
    ``"counter"``) or an object with ``init`` and ``step`` (returned as it is, or
    wrapped in :class:`Model`)."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        cls = MODELS.get(model)
        if cls is None:
            raise ValueError(f"unknown model {model!r} (one of {', '.join(MODELS)})")
        return cls()
    step = getattr(model, "step", None)
    if step is None or not hasattr(model, "init"):
        raise TypeError(f"a model is a name or has init and step, got {type(model).__name__}")
    init = model.init() if callable(model.init) else model.init
    return Model(init=init, step=step, ops=getattr(model, "ops", None),
                 name=getattr(model, "name", type(model).__name__),
                 partition=getattr(model, "partition_key", None))
