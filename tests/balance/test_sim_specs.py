"""The spec parsers of the simulator (what the CLI passes through) and the
distributions they produce.

Good specs parse to the documented parameters, normalized to mean 1; bad ones
raise ValueError with a one-line message naming the problem. Each service
distribution, sampled inside the simulator, has mean 1 (the servers'
utilization equals the load) and the shape its parameters ask for.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.balance import simulator as simmod
from tradeoff.balance._impl import Random
from tradeoff.balance.simulator import (ArrivalSpec, Failure, ServiceSpec, make_balancer,
                                       parse_arrivals, parse_duration, parse_failures,
                                       parse_service, simulate)


@pytest.fixture(autouse=True)
def check_invariants(monkeypatch):
    monkeypatch.setattr(simmod, "_CHECK", True)


def one_line_value_error(fn, *args, match=None, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize("text,seconds", [
    ("10s", 10.0), ("10", 10.0), ("250ms", 0.25), ("2m", 120.0), ("1.5h", 5400.0),
    ("15us", 15e-6), (" 3 s ", 3.0), ("1e2ms", 0.1), (7, 7.0), (0.5, 0.5), ("2min", 120.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "s", "10 days", "-5s", "1d", "abc", "inf", "nan", float("nan"),
                                 -1, True])
def test_bad_durations(bad):
    one_line_value_error(parse_duration, bad)


# ---------------------------------------------------------------- failures


def test_failures_parse():
    assert parse_failures("3@10s-40s,5@20-30") == [Failure(3, 10.0, 40.0), Failure(5, 20.0, 30.0)]
    assert parse_failures("0@500ms-2s") == [Failure(0, 0.5, 2.0)]
    assert parse_failures(" 1 @ 1m - 90s ") == [Failure(1, 60.0, 90.0)]
    assert parse_failures("2@10s") == [Failure(2, 10.0, math.inf)]
    assert parse_failures("2@10s-") == [Failure(2, 10.0, math.inf)]
    assert parse_failures([(1, 5, 6), (1, "7s", None)]) == [Failure(1, 5.0, 6.0), Failure(1, 7.0, math.inf)]
    assert parse_failures("1@1-2,1@2-3") == [Failure(1, 1.0, 2.0), Failure(1, 2.0, 3.0)]  # back to back
    assert parse_failures(None) == [] and parse_failures("") == []


@pytest.mark.parametrize("bad,match", [
    ("3@40s-10s", "before it starts"), ("3@10s-10s", "before it starts"),
    ("3-10s-40s", "SERVER@START-END"), ("@10-20", "SERVER@START-END"), ("x@1-2", "SERVER@START-END"),
    ("3@10x-20", "bad start"), ("3@10-2q", "bad end"), ("-1@1-2", "SERVER@START-END"),
    ("1@1-5,1@3-8", "overlap"), ("3@", "SERVER@START-END"), ("3@10s-40s;5@1-2", "SERVER@START-END"), ("3@1e-3-2", None),
])
def test_bad_failures(bad, match):
    if match is None:
        assert parse_failures(bad) == [Failure(3, 0.001, 2.0)]      # an exponent is not a dash
        return
    one_line_value_error(parse_failures, bad, match=match)


@pytest.mark.parametrize("bad", [[(1, 2)], [("a", 1, 2)], [(-1, 1, 2)], [(1, -1, 2)], [(True, 1, 2)],
                                 [5]])
def test_bad_failure_tuples(bad):
    one_line_value_error(parse_failures, bad)


# ---------------------------------------------------------------- service times


def test_service_specs():
    assert parse_service("exp") == ServiceSpec("exp", "exp")
    assert parse_service("exponential").kind == "exp"
    assert parse_service("constant").kind == parse_service("const").kind == "const"
    b = parse_service("bimodal:p=0.1,ratio=10")
    assert b.params["long"] == pytest.approx(10 * b.params["short"])
    assert 0.9 * b.params["short"] + 0.1 * b.params["long"] == pytest.approx(1.0)
    e = parse_service("bimodal:p=0.25,short=2,long=50")
    assert e.params["long"] / e.params["short"] == pytest.approx(25)
    assert 0.75 * e.params["short"] + 0.25 * e.params["long"] == pytest.approx(1.0)
    ln = parse_service("lognormal:sigma=1.5")
    assert ln.params == {"sigma": 1.5, "mu": -1.125}
    assert parse_service("lognormal").params["sigma"] == 1.0
    pa = parse_service("pareto:alpha=3")
    assert pa.params["scale"] * 3 / 2 == pytest.approx(1.0)       # mean alpha xm / (alpha - 1)
    s = parse_service(ServiceSpec("exp", "exp"))
    assert s.kind == "exp"


def test_service_samples_and_files(tmp_path):
    arr = np.array([1.0, 2.0, 3.0, 6.0])
    s = parse_service(arr)
    assert s.kind == "resample" and s.mean_seconds == 3.0
    assert s.values.tolist() == pytest.approx([1 / 3, 2 / 3, 1.0, 2.0])
    assert parse_service(arr, in_order=True).kind == "order"
    np.save(tmp_path / "svc.npy", arr)
    (tmp_path / "svc.txt").write_text("# seconds\n1\n2\n3\n6\n")
    assert parse_service(f"file:{tmp_path / 'svc.npy'}").mean_seconds == 3.0
    t = parse_service(f"trace:{tmp_path / 'svc.txt'}")
    assert t.kind == "order" and t.values.tolist() == pytest.approx(s.values.tolist())


@pytest.mark.parametrize("bad,match", [
    ("gamma", "unknown service distribution"), ("lognormal:sigma=-1", "sigma must be >= 0"),
    ("lognormal:mu=1", "unknown parameter 'mu'"), ("pareto:alpha=1", "alpha must be > 1"),
    ("pareto:alpha=0.5", "alpha must be > 1"), ("bimodal:p=1.5", "p must be in"),
    ("bimodal:p=0.1,ratio=-2", "ratio must be > 0"), ("bimodal:short=1", "both short and long"),
    ("bimodal:short=1,long=2,ratio=3", "not both"), ("bimodal:p", "write name=value"),
    ("exp:rate=2", "unknown parameter"), ("lognormal:sigma=abc", "not a number"),
    ("lognormal:sigma=1,sigma=2", "given twice"), ("file:", "give a path"),
    ("file:/no/such/file.npy", "not found"), ("pareto:alpha=nan", "not finite"),
])
def test_bad_service(bad, match):
    one_line_value_error(parse_service, bad, match=match)


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [0.0, 0.0], [1.0, float("nan")]])
def test_bad_service_samples(bad):
    one_line_value_error(parse_service, np.array(bad))


def test_unreadable_service_file(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("1\nnot a number\n")
    one_line_value_error(parse_service, f"file:{p}", match="cannot read")


# ---------------------------------------------------------------- arrivals


def test_arrival_specs(tmp_path):
    assert parse_arrivals("poisson") == ArrivalSpec("poisson", "poisson")
    assert parse_arrivals("onoff").params == {"on": 1.0, "off": 1.0}
    assert parse_arrivals("onoff:on=100ms,off=2s").params == {"on": 0.1, "off": 2.0}
    assert parse_arrivals("batch:size=8").params == {"size": 8}
    assert parse_arrivals("batch:mean=2.5").params == {"mean": 2.5}
    tr = parse_arrivals(np.array([0.0, 0.5, 0.5, 2.0]))
    assert tr.kind == "trace" and tr.times.tolist() == [0.0, 0.5, 0.5, 2.0]
    (tmp_path / "arr.txt").write_text("0.1\n0.2\n0.4\n")
    assert parse_arrivals(f"trace:{tmp_path / 'arr.txt'}").times.tolist() == [0.1, 0.2, 0.4]


@pytest.mark.parametrize("bad,match", [
    ("bursty", "unknown arrival process"), ("onoff:on=0s", "on period must be > 0"),
    ("onoff:on=-1s", "must be finite and >= 0"), ("onoff:peak=3", "unknown parameter"),
    ("batch", "size=K"), ("batch:size=2.5", "whole number"), ("batch:size=0", "whole number"),
    ("batch:mean=0.5", "mean must be >= 1"), ("batch:size=2,mean=3", "size=K"),
    ("poisson:rate=3", "unknown parameter"), ("trace:", "give a path"),
])
def test_bad_arrivals(bad, match):
    one_line_value_error(parse_arrivals, bad, match=match)


@pytest.mark.parametrize("bad", [[], [1.0, 0.5], [-1.0, 2.0], [0.0, float("inf")]])
def test_bad_arrival_traces(bad):
    one_line_value_error(parse_arrivals, np.array(bad))


# ---------------------------------------------------------------- simulate's arguments


@pytest.mark.parametrize("kwargs,match", [
    (dict(discipline="lifo"), "unknown discipline"), (dict(load=0), "load must be"),
    (dict(load=float("nan")), "load must be"), (dict(requests=0), "requests must be >= 1"),
    (dict(servers=0), "servers must be"), (dict(speeds=[1, 2]), "2 speeds for 10 servers"),
    (dict(speeds=[1] * 9 + [0]), "speeds must be finite and > 0"), (dict(speeds="1,x"), "bad speeds"),
    (dict(warmup=100), r"warmup must be in \[0, requests\)"), (dict(warmup=-1), "warmup"),
    (dict(warmup=1.5), "warmup"), (dict(seed=-1), "seed"), (dict(mean_service=0), "mean_service"),
    (dict(clients=0), "clients must be >= 1"), (dict(clients=np.array([0.5])), "clients is a count"),
    (dict(error_timeout="soon"), "bad error_timeout"), (dict(service="gamma"), "unknown service"),
    (dict(arrivals="bursty"), "unknown arrival"), (dict(fail="3@1-"), None),
])
def test_bad_simulate_arguments(kwargs, match):
    args = dict(balancer="rr", requests=100)
    args.update(kwargs)
    if match is None:          # a well-formed spec runs
        simulate(**args)
        return
    one_line_value_error(simulate, match=match, **args)


def test_bad_types():
    with pytest.raises(TypeError, match="HealthCheck"):
        simulate("rr", requests=10, health=object())
    with pytest.raises(TypeError, match="Balancer or a policy name"):
        simulate(3, requests=10)
    with pytest.raises(TypeError, match="requests must be an int"):
        simulate("rr", requests=1.5)


def test_policy_names_and_parameters():
    assert type(make_balancer("p2c:choices=3", 10)).__name__ == "PowerOfTwoChoices"
    assert make_balancer("p2c:choices=3", 10).choices == 3
    assert make_balancer("lrt:alpha=0.5", 4).alpha == 0.5
    for name in simmod.POLICIES:
        assert len(make_balancer(name, 3)) == 3
    one_line_value_error(make_balancer, "p2c:dice=3", 10, match="unknown parameter 'dice' for policy 'p2c'")
    one_line_value_error(make_balancer, "p2c:choices", 10, match="write name=value")
    one_line_value_error(make_balancer, "p2c:choices=0", 10, match="choices")


# ---------------------------------------------------------------- the distributions, sampled


@pytest.mark.parametrize("service", ["exp", "const", "bimodal:p=0.1,ratio=10", "lognormal:sigma=1",
                                     "pareto:alpha=3", "bimodal:p=0.5,short=1,long=3"])
def test_every_distribution_has_mean_one(service):
    # utilization = arrival rate x mean service time / speed: load when the mean is 1
    r = simulate(Random(1), load=0.4, service=service, requests=100_000, seed=2)
    assert r.utilization[0] == pytest.approx(0.4, rel=0.025)


def test_sampled_service_and_units():
    # a sample in seconds: its mean is the time unit, latencies come out in that unit
    svc = np.array([0.002, 0.004, 0.006])          # mean 4 ms
    r = simulate(Random(1), load=0.3, service=svc, requests=60_000, seed=1)
    assert r.mean_service == pytest.approx(0.004)
    assert r.utilization[0] == pytest.approx(0.3, rel=0.03)
    # in order, cycled: with no queueing (one request per 20 ms) latencies repeat the sample
    times = np.arange(30) * 0.02
    r = simulate("rr", servers=1, service=parse_service(svc, in_order=True), arrivals=times,
                 warmup=0)
    assert r.latencies.tolist() == pytest.approx([0.5, 1.0, 1.5] * 10)


def test_onoff_keeps_the_average_load_and_raises_the_tail():
    kw = dict(servers=4, load=0.5, requests=200_000, seed=3)
    smooth = simulate("p2c", **kw)
    bursty = simulate("p2c", arrivals="onoff:on=0.2s,off=0.2s", **kw)
    assert np.mean(bursty.utilization) == pytest.approx(0.5, rel=0.04)
    assert bursty.p99 > 2 * smooth.p99          # on periods run at load 1.0


def test_geometric_batches():
    # M^X/M/1 with geometric batches of mean m: E[X^2] = m (2m - 1),
    # L = rho (E[X^2] + E[X]) / (2 E[X] (1 - rho)), T = L / lambda
    rho, m = 0.5, 3.0
    r = simulate(Random(1), load=rho, arrivals=f"batch:mean={m}", requests=200_000, seed=5)
    ex2 = m * (2 * m - 1)
    assert r.mean == pytest.approx(rho * (ex2 + m) / (2 * m * (1 - rho)) / rho, rel=0.05)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.floats(0, 1e4), st.floats(0.001, 1e4)),
                max_size=4))
def test_failure_spec_round_trip(items):
    # whatever parses from tuples parses the same from the written form
    spec = [(s, d, d + u) for s, d, u in items]
    try:
        parsed = parse_failures(spec)
    except ValueError:
        with pytest.raises(ValueError):
            parse_failures(",".join(f"{s}@{d!r}-{u!r}" for s, d, u in spec))
        return
    text = ",".join(f"{f.server}@{f.down!r}s-{f.up!r}s" for f in parsed)
    assert parse_failures(text) == parsed
