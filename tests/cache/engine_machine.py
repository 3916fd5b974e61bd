"""The state machine every replay engine's model test shares.

A replay engine (``make_engine(policy, ...)``) and a pure-Python model of its
policy get the same steps, and after every step the engine's own invariants
(``_check()``) run and the subclass compares the two states (``compare()``).
The steps:

- ``request``: the two halves of a request, as the online mapping wrapper
  makes them: ``_hit(key)``, and on a miss of an object that fits,
  ``_insert(key, size)``; the hit/miss and the keys the insert evicts, in
  eviction order, must be the model's;
- ``access``: the whole request in one call, ``_access(key, size)`` (the
  engine decides whether the object fits); the hit/miss must be the model's;
- ``delete``: ``_remove(key)`` and the model's ``remove(key)`` must agree on
  whether the key was there.

A model has ``hit(key) -> bool``, ``insert(key, size) -> [evicted keys]``
(called only after a missed ``hit`` of the same key, and only when ``size``
fits in the capacity) and ``remove(key) -> bool``.

A subclass sets ``KEYS`` and ``SIZES`` (small key pools and capacities, so that
hits, evictions and ghost hits all happen), calls ``self.start(engine, model,
capacity, sized)`` from its ``@initialize`` and writes ``compare()``. Unsized
engines get size 1 whatever ``SIZES`` draws.
"""
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

__all__ = ["EngineMachine"]


def _per_class(name):
    """The subclass's own strategy ``name`` (``KEYS`` or ``SIZES``), drawn at each step."""
    return st.runner().flatmap(lambda machine: getattr(machine, name))


class EngineMachine(RuleBasedStateMachine):
    KEYS = st.integers(0, 15)
    SIZES = st.integers(1, 12)

    def start(self, engine, model, capacity, sized):
        """Set the pair up (from the subclass's ``@initialize``)."""
        self.engine, self.model = engine, model
        self.capacity, self.sized = capacity, sized

    def _size(self, size):
        return size if self.sized else 1

    @rule(key=_per_class("KEYS"), size=_per_class("SIZES"))
    def request(self, key, size):
        size = self._size(size)
        hit = self.engine._hit(key)
        assert hit == self.model.hit(key)
        if not hit and size <= self.capacity:
            assert self.engine._insert(key, size) == self.model.insert(key, size)

    @rule(key=_per_class("KEYS"), size=_per_class("SIZES"))
    def access(self, key, size):
        size = self._size(size)
        hit = self.model.hit(key)
        if not hit and size <= self.capacity:
            self.model.insert(key, size)
        assert self.engine._access(key, size) == hit

    @rule(key=_per_class("KEYS"))
    def delete(self, key):
        assert self.engine._remove(key) == self.model.remove(key)

    @invariant()
    def same(self):
        self.engine._check()
        self.compare()

    def compare(self):
        """Compare the engine's state with the model's (the subclass's)."""
        raise NotImplementedError
