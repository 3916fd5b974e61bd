"""Active health checks (rise/fall) and passive outlier ejection against models.

``HealthModel`` keeps each server's results since its last change of state and
flips it when the last ``rise`` (or ``fall``) of them all point the other way;
``DetectorModel`` counts error runs and applies Envoy's cap. A state machine
drives a detector and a balancer together the way the simulator does
(``record`` then ``eject``; ``release_due`` then ``uneject``) and checks the
ejection bounds after every step.
"""
import math

import pytest
from hypothesis import HealthCheck as HypothesisHealthCheck
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from balance_models import DetectorModel, HealthModel
from tradeoff.balance._base import HealthCheck, OutlierDetector
from tradeoff.balance._impl import RoundRobin

# ---------------------------------------------------------------- health checks


@settings(max_examples=300, deadline=None)
@given(rise=st.integers(1, 4), fall=st.integers(1, 4), n=st.integers(1, 3),
       probes=st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=80))
def test_rise_and_fall_follow_the_model(rise, fall, n, probes):
    hc = HealthCheck(interval=1.0, rise=rise, fall=fall)
    hc.bind(n)
    model = HealthModel(n, rise, fall)
    for s, ok in probes:
        s %= n
        assert hc.observe(s, ok) == model.observe(s, ok)
        assert hc.healthy == model.healthy
        hc._check()


def test_fall_needs_consecutive_failures():
    hc = HealthCheck(interval=2.0, rise=2, fall=3)
    hc.bind(1)
    # a success in between restarts the count
    assert [hc.observe(0, ok) for ok in (False, False, True, False, False)] == [0] * 5
    assert hc.observe(0, False) == -1
    assert hc.healthy == [False]
    # down: one success is not enough with rise 2; a failure restarts it
    assert [hc.observe(0, ok) for ok in (True, False, True)] == [0, 0, 0]
    assert hc.observe(0, True) == 1
    assert hc.healthy == [True]


def test_long_runs_do_not_overflow():
    hc = HealthCheck(rise=2, fall=2)
    hc.bind(1)
    for _ in range(10000):
        hc.observe(0, True)
    hc._check()
    assert hc.observe(0, False) == 0 and hc.observe(0, False) == -1


def test_health_check_defaults_and_errors():
    hc = HealthCheck()
    assert (hc.interval, hc.rise, hc.fall, hc.timeout) == (2.0, 2, 3, 2.0)
    assert HealthCheck(interval=5, timeout=1).timeout == 1.0
    for kwargs, word in (({"interval": 0}, "interval"), ({"interval": math.nan}, "interval"),
                         ({"rise": 0}, "rise"), ({"fall": 0}, "fall"),
                         ({"timeout": -1}, "timeout"), ({"timeout": math.inf}, "timeout")):
        with pytest.raises(ValueError, match=word):
            HealthCheck(**kwargs)
    with pytest.raises(ValueError, match="at least one"):
        hc.bind(0)
    hc.bind(2)
    with pytest.raises(IndexError):
        hc.observe(2, True)


# ---------------------------------------------------------------- outlier detection


def allowed_ejections(n, pct):
    """The most servers the cap lets be ejected at once."""
    k = math.floor(pct * n / 100.0 + 1e-9)
    return max(k, 1) if pct > 0 else 0


class DetectorVersusModel(RuleBasedStateMachine):
    @initialize(n=st.integers(1, 12), k=st.integers(1, 4), base=st.sampled_from([1.0, 2.5, 30.0]),
                pct=st.sampled_from([0.0, 5.0, 10.0, 25.0, 50.0, 100.0]))
    def setup(self, n, k, base, pct):
        self.d = OutlierDetector(consecutive_errors=k, base_ejection_time=base,
                                 max_ejection_percent=pct)
        self.d.bind(n)
        self.m = DetectorModel(n, k, base, pct)
        self.b = RoundRobin(n)
        self.now = 0.0
        self.n, self.pct, self.base = n, pct, base
        self.longest = [0.0] * n

    @rule(s=st.integers(0, 11), ok=st.booleans())
    def record(self, s, ok):
        s %= self.n
        before = self.m.times[s]
        got = self.d.record(s, ok, self.now)
        assert got == self.m.record(s, ok, self.now)
        if got:
            self.b.eject(s)
            # the k-th ejection lasts k base times: longer every time
            until = self.d.ejected_until[s]
            assert until - self.now == pytest.approx(self.base * (before + 1))
            assert until - self.now > self.longest[s]
            self.longest[s] = until - self.now

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 3.0, 10.0, 40.0]))
    def advance(self, dt):
        self.now += dt
        released = self.d.release_due(self.now)
        assert sorted(released) == self.m.release_due(self.now)
        for s in released:
            self.b.uneject(s)

    @invariant()
    def same_state(self):
        self.d._check()
        self.b._check()
        assert self.d.ejected == [u is not None for u in self.m.until]
        assert self.d.times_ejected == self.m.times
        assert self.b.ejected == self.d.ejected
        # the cap: never more than max_ejection_percent, except one server
        assert sum(self.d.ejected) <= allowed_ejections(self.n, self.pct)


DetectorVersusModel.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None,
    suppress_health_check=[HypothesisHealthCheck.too_slow])
TestDetectorVersusModel = DetectorVersusModel.TestCase


def test_ejection_cap_and_the_one_server_rule():
    # 10 % of 5 servers rounds to none: one may still be ejected, not two
    d = OutlierDetector(consecutive_errors=2, base_ejection_time=10, max_ejection_percent=10)
    d.bind(5)
    assert [d.record(0, False, 0.0) for _ in range(2)] == [False, True]
    assert [d.record(1, False, 0.0) for _ in range(5)] == [False] * 5
    assert d.ejected == [True, False, False, False, False]
    # server 1's run is at the threshold: its next error after the release ejects it
    assert d.release_due(10.0) == [0]
    assert d.record(1, False, 10.0) is True
    # 0 % ejects nothing ever
    z = OutlierDetector(consecutive_errors=1, max_ejection_percent=0)
    z.bind(3)
    assert not any(z.record(0, False, 0.0) for _ in range(5))


def test_ejection_time_grows_with_each_ejection():
    d = OutlierDetector(consecutive_errors=1, base_ejection_time=30.0, max_ejection_percent=100)
    d.bind(2)
    now, lengths = 0.0, []
    for _ in range(4):
        assert d.record(0, False, now)
        lengths.append(d.ejected_until[0] - now)
        now = d.ejected_until[0]
        assert d.release_due(now - 1e-9) == []
        assert d.release_due(now) == [0]
    assert lengths == [30.0, 60.0, 90.0, 120.0]
    assert d.times_ejected == [4, 0]


def test_results_while_ejected_are_ignored():
    d = OutlierDetector(consecutive_errors=3, base_ejection_time=5.0, max_ejection_percent=100)
    d.bind(2)
    for _ in range(3):
        d.record(0, False, 0.0)
    assert d.ejected == [True, False]
    for _ in range(10):                      # requests still in flight fail
        assert d.record(0, False, 1.0) is False
    d.release_due(5.0)
    assert [d.record(0, False, 6.0) for _ in range(3)] == [False, False, True]
    d._check()


def test_success_resets_the_run():
    d = OutlierDetector(consecutive_errors=3, max_ejection_percent=100)
    d.bind(1)
    for ok in (False, False, True, False, False):
        assert d.record(0, ok, 0.0) is False
    assert d.record(0, False, 0.0) is True


def test_detector_errors():
    for kwargs, word in (({"consecutive_errors": 0}, "consecutive_errors"),
                         ({"base_ejection_time": 0}, "base_ejection_time"),
                         ({"max_ejection_percent": 101}, "max_ejection_percent"),
                         ({"max_ejection_percent": -1}, "max_ejection_percent")):
        with pytest.raises(ValueError, match=word):
            OutlierDetector(**kwargs)
    d = OutlierDetector()
    d.bind(2)
    with pytest.raises(IndexError):
        d.record(5, False, 0.0)
    with pytest.raises(ValueError, match="now"):
        d.record(0, False, -1.0)
    with pytest.raises(ValueError, match="now"):
        d.record(0, False, math.nan)
