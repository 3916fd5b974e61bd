"""A pure-Python model of ``tradeoff.strategies._stampede`` (the same rules, the same
random streams): on one seed it must give the same counts and latencies as the
Cython core (hypothesis over the parameters)."""
import heapq
import math

from hypothesis import given, settings, strategies as st

from tradeoff.strategies import stampede as S
from tradeoff.strategies._stampede import FIX_KINDS, Stampede

from pymodels import Rng, mix64

SALT_ARR = 0x6172726976616C73
SALT_KEY = 0x6B65797320202020
SALT_CMP = 0x7265636F6D707574
SALT_FIX = 0x6669786472617773


def model(fix, keys, rate, ttl, dist, seed, n, beta=1.0, spread=0.1, stale=False, window=math.inf):
    """Run the model; ``dist`` is ``("const", d)`` or ``("exp", mean)``. Returns the
    counters and the non-zero latencies, in drawing order."""
    r_arr, r_key = Rng(mix64(seed ^ SALT_ARR)), Rng(mix64(seed ^ SALT_KEY))
    r_cmp, r_fix = Rng(mix64(seed ^ SALT_CMP)), Rng(mix64(seed ^ SALT_FIX))

    def ttl_of():
        return ttl * (1.0 - spread * r_fix.uniform()) if fix == "jitter" else ttl

    expiry = [ttl_of() for _ in range(keys)]
    delta = [dist[1]] * keys
    lock_done = [0.0] * keys
    inflight = [0] * keys
    pending = []            # (time, seq, key, duration)
    c = dict(requests=0, hits=0, recomputes=0, episodes=0, early=0, background=0, waits=0, stale_reads=0,
             sync_recomputes=0, peak_in_flight=0)
    lat = []
    seq = [0]
    in_flight = [0]

    def start(k, t):
        d = dist[1] if dist[0] == "const" else r_cmp.exponential(dist[1])
        heapq.heappush(pending, (t + d, seq[0], k, d))
        seq[0] += 1
        if inflight[k] == 0:
            c["episodes"] += 1
        inflight[k] += 1
        in_flight[0] += 1
        c["peak_in_flight"] = max(c["peak_in_flight"], in_flight[0])
        c["recomputes"] += 1
        return d

    mean = 1.0 / rate
    t = 0.0
    for _ in range(n):
        t = t + r_arr.exponential(mean)
        while pending and pending[0][0] <= t:          # completions first on a tie
            tc, _s, k, d = heapq.heappop(pending)
            inflight[k] -= 1
            in_flight[0] -= 1
            expiry[k] = tc + ttl_of()
            delta[k] = d
        k = r_key.below(keys)
        c["requests"] += 1
        if t < expiry[k]:
            if fix == "xfetch" and t - delta[k] * beta * math.log(r_fix.uniform_pos()) >= expiry[k]:
                lat.append(start(k, t))
                c["early"] += 1
                c["sync_recomputes"] += 1
            else:
                c["hits"] += 1
            continue
        if fix == "lock":
            if inflight[k] > 0:
                if stale:
                    c["stale_reads"] += 1
                else:
                    c["waits"] += 1
                    x = lock_done[k] - t
                    if x > 0:
                        lat.append(x)
                continue
            d = start(k, t)
            lock_done[k] = t + d
            c["sync_recomputes"] += 1
            lat.append(d)
            continue
        if fix == "swr" and t < expiry[k] + window:
            c["stale_reads"] += 1
            if inflight[k] == 0:
                start(k, t)
                c["background"] += 1
            continue
        lat.append(start(k, t))
        c["sync_recomputes"] += 1
    return c, [x for x in lat if x > 0], t


FIX_SPEC = st.sampled_from(["none", "lock", "lock:stale=1", "jitter:spread=0.3", "xfetch:beta=0.7",
                            "xfetch:beta=2", "swr", "swr:window=0.02"])


@settings(max_examples=60, deadline=None)
@given(spec=FIX_SPEC, keys=st.integers(1, 4), rate=st.floats(5, 500), ttl=st.floats(0.05, 1.0),
       kind=st.sampled_from(["const", "exp"]), mean=st.floats(0.001, 0.2), seed=st.integers(0, 2**64 - 1),
       n=st.integers(1, 800))
def test_matches_python_model(spec, keys, rate, ttl, kind, mean, seed, n):
    """The Cython core and the pure-Python model agree exactly on one seed."""
    choice = S.parse_fixes(spec)[0]
    p = S._fix_params(choice)
    s = Stampede(FIX_KINDS[choice.name], keys, rate, ttl, (0 if kind == "const" else 1, mean, None), seed, **p)
    s.run(n)
    s._check()
    c, lat, t_last = model(choice.name, keys, rate, ttl, (kind, mean), seed, n, **p)
    for name, v in c.items():
        assert getattr(s, name) == v, name
    assert s.latencies().tolist() == lat
    assert s.now == t_last
