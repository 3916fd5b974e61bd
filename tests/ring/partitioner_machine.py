"""The state machine every partitioner's model test shares: remove, lookup and
lookup_many against the model, and ``_check()`` plus the node list after every
step. A subclass sets ``self.part`` and ``self.model`` in its ``@initialize``
(or leaves them unset to skip an example), adds its own ``add`` and weight
rules, and compares its own structure in ``compare()``."""
import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

NAMES = ["a", "b", "c", "node-1", "10.0.0.1:11211", "é", "ключ", "z"]
I64 = st.integers(-(2**63), 2**63 - 1)
U64 = st.integers(0, 2**64 - 1)
KEYS = st.one_of(I64, U64, st.text(max_size=12), st.binary(max_size=12))


def built(self):
    return hasattr(self, "part")


def built_with_nodes(self):
    return hasattr(self, "part") and bool(self.model.names)


class PartitionerMachine(RuleBasedStateMachine):
    @precondition(built)
    @rule(name=st.sampled_from(NAMES))
    def remove(self, name):
        if name not in self.model.names:
            with pytest.raises(KeyError):
                self.part.remove(name)
        else:
            self.part.remove(name)
            self.model.remove(name)

    @precondition(built)
    @rule(key=KEYS)
    def lookup(self, key):
        want = self.model.lookup(key)
        if want is None:
            with pytest.raises(LookupError):
                self.part.lookup(key)
        else:
            assert self.part.lookup(key) == want

    @precondition(built_with_nodes)
    @rule(keys=st.lists(I64, max_size=20))
    def lookup_many(self, keys):
        got = self.part.lookup_many(np.array(keys, dtype=np.int64)).tolist()
        assert [self.part.nodes[i] for i in got] == [self.model.lookup(k) for k in keys]

    @invariant()
    def same(self):
        if not built(self):
            return
        self.part._check()
        assert self.part.nodes == self.model.names
        self.compare()

    def compare(self):
        """Compare the class's own structure with the model's (a subclass's)."""
