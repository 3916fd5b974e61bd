"""An engine's lookup remembers, at a miss, the index bucket where the missed key
goes (eng_lookup), so that the insert right after puts it there without probing
again (eng_admit). A change to the index in between (a remove, which can move
entries back over that bucket) must make the insert probe afresh.

The reference engine gets the same requests, but what its lookup remembered is
dropped before every insert (``_forget_lookup``), so it always probes; _check()
also finds every resident key through the index."""
import random

import pytest

from tradeoff.cache import make_engine



@pytest.mark.parametrize("policy", ["wtinylfu", "lirs", "s3fifo", "arc", "sieve", "clock"])
@pytest.mark.parametrize("seed", range(6))
def test_insert_after_other_index_changes(policy, seed):
    rnd = random.Random(seed)
    e = make_engine(policy, 8)
    ref = make_engine(policy, 8)
    for _ in range(800):
        key = rnd.randrange(40)
        hit = e._hit(key)
        assert hit == ref._hit(key)
        if hit:
            continue
        # between the miss and the insert: removes and requests of other keys
        for _ in range(rnd.randrange(3)):
            other = rnd.randrange(40)
            if other == key:
                continue
            if rnd.random() < 0.5:
                assert e._remove(other) == ref._remove(other)
            else:
                assert e._hit(other) == ref._hit(other)
        ref._forget_lookup()
        assert e._insert(key) == ref._insert(key)
        e._check()
        assert e._resident() == ref._resident()


@pytest.mark.parametrize("policy", ["wtinylfu", "lirs", "s3fifo", "arc", "sieve", "clock"])
def test_remove_between_miss_and_insert(policy):
    e = make_engine(policy, 16)
    ref = make_engine(policy, 16)
    for k in range(16):
        e._access(k)
        ref._access(k)
    for k in range(16, 400):
        assert not e._hit(k)
        assert not ref._hit(k)
        victim = e._resident()[k % len(e._resident())]
        e._remove(victim)           # may move index entries back over k's bucket
        ref._remove(victim)
        ref._forget_lookup()
        assert e._insert(k) == ref._insert(k)
        e._check()
        assert e._resident() == ref._resident()
