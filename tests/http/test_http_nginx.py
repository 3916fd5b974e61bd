"""Real nginx (proxy_cache) against NginxModel on replayed request sequences: the same
$upstream_cache_status for every request. Each case also says what RFC 9111 (tradeoff.http,
as a shared cache) does with the second request, so the rows where nginx departs from the
RFC are written down and checked.

Time is controlled by short max-ages and whole-second offsets from a start half-way through
a wall-clock second (nginx's clock ticks in whole seconds); statuses, not durations, are
compared.
"""
import subprocess

import pytest

from tradeoff.http import FRESH, MISS, MUST_VALIDATE, Request, StoredResponse, decide, storable
from tradeoff.http.nginx import DOWN, NginxServer, Resource, Step, nginx_missing, replay, replay_model

needs_nginx = pytest.mark.skipif(nginx_missing() is not None, reason=nginx_missing() or "")

EXPIRES = "Thu, 01 Jan 2037 00:00:00 GMT"
T0 = 1767225600.5     # a start for the model alone: 2026-01-01, half-way through a second

#: path: (response headers, status, second request's headers,
#:        nginx's statuses, RFC 9111 shared-cache action for the second request)
CACHEABILITY = {
    "/max-age": ({"Cache-Control": "max-age=60"}, 200, {}, ["MISS", "HIT"], FRESH),
    "/s-maxage": ({"Cache-Control": "s-maxage=60, max-age=0"}, 200, {}, ["MISS", "HIT"], FRESH),
    "/expires": ({"Expires": EXPIRES}, 200, {}, ["MISS", "HIT"], FRESH),
    "/404": ({"Cache-Control": "max-age=60"}, 404, {}, ["MISS", "HIT"], FRESH),
    "/500": ({"Cache-Control": "max-age=60"}, 500, {}, ["MISS", "HIT"], FRESH),
    "/dup": ({"Cache-Control": "max-age=60, max-age=0"}, 200, {}, ["MISS", "HIT"], FRESH),
    "/must-revalidate": ({"Cache-Control": "max-age=60, must-revalidate"}, 200, {}, ["MISS", "HIT"], FRESH),
    "/x-accel-expires": ({"X-Accel-Expires": "60"}, 200, {}, ["MISS", "HIT"], MUST_VALIDATE),
    # departures from RFC 9111:
    "/age": ({"Cache-Control": "max-age=60", "Age": "100"}, 200, {}, ["MISS", "HIT"], MUST_VALIDATE),
    "/expires-first": ([("Expires", "Thu, 01 Jan 1998 00:00:00 GMT"), ("Cache-Control", "max-age=60")], 200, {},
                       ["MISS", "MISS"], FRESH),
    "/no-cache": ({"Cache-Control": "no-cache, max-age=60"}, 200, {}, ["MISS", "MISS"], MUST_VALIDATE),
    "/qualified-no-cache": ({"Cache-Control": 'max-age=60, no-cache="Set-Cookie"'}, 200, {},
                            ["MISS", "MISS"], MUST_VALIDATE),
    "/quoted": ({"Cache-Control": 'max-age="60"'}, 200, {}, ["MISS", "MISS"], FRESH),
    "/max-age-0": ({"Cache-Control": "max-age=0"}, 200, {}, ["MISS", "MISS"], MUST_VALIDATE),
    "/heuristic": ({"Last-Modified": "Sun, 06 Nov 1994 08:49:37 GMT"}, 200, {}, ["MISS", "MISS"], FRESH),
    "/public": ({"Cache-Control": "public"}, 200, {}, ["MISS", "MISS"], MUST_VALIDATE),
    "/cookie": ({"Cache-Control": "max-age=60", "Set-Cookie": "a=b"}, 200, {}, ["MISS", "MISS"], FRESH),
    "/request-no-cache": ({"Cache-Control": "max-age=60"}, 200, {"Cache-Control": "no-cache"},
                          ["MISS", "HIT"], MUST_VALIDATE),
    "/request-max-age-0": ({"Cache-Control": "max-age=60"}, 200, {"Cache-Control": "max-age=0"},
                           ["MISS", "HIT"], MUST_VALIDATE),
    "/authorization": ({"Cache-Control": "max-age=60"}, 200, {"Authorization": "Basic eDp5"},
                       ["MISS", "HIT"], MISS),
    # agree: not stored by either
    "/private": ({"Cache-Control": "private, max-age=60"}, 200, {}, ["MISS", "MISS"], MISS),
    "/no-store": ({"Cache-Control": "no-store, max-age=60"}, 200, {}, ["MISS", "MISS"], MISS),
    "/vary-star": ({"Cache-Control": "max-age=60", "Vary": "*"}, 200, {}, ["MISS", "MISS"], MISS),
    "/expires-0": ({"Expires": "0"}, 200, {}, ["MISS", "MISS"], MUST_VALIDATE),
}


@pytest.fixture(scope="module")
def cacheability_server():
    if nginx_missing():
        pytest.skip(nginx_missing())
    resources = {p: Resource(h, status=s) for p, (h, s, *_rest) in CACHEABILITY.items()}
    with NginxServer(resources) as ng:
        yield ng, resources


def _rfc_second(headers, status, request_headers):
    """What an RFC 9111 shared cache does with the second request, 0.3 s after the first."""
    first_headers = request_headers if "Authorization" in request_headers else {}
    stored = StoredResponse(status, {"Date": "Thu, 01 Jan 2026 00:00:00 GMT", **dict(headers)}, Request("GET", first_headers),
                            response_time=1767225600.0)
    req = Request("GET", request_headers)
    if not storable(Request("GET", first_headers), stored):
        return MISS
    return decide(req, stored, 1767225600.3).action


def test_cacheability_and_departures(cacheability_server):
    ng, resources = cacheability_server
    steps = []
    for i, (path, (_h, _s, second, _n, _r)) in enumerate(CACHEABILITY.items()):
        first = second if "Authorization" in second else {}
        steps += [Step(0.02 * i, path, first), Step(0.5 + 0.02 * i, path, second)]
    real, t0 = replay(ng, steps)
    model = replay_model(resources, steps, t0)
    assert real == model
    for i, (path, (h, s, second, want_nginx, want_rfc)) in enumerate(CACHEABILITY.items()):
        assert real[2 * i: 2 * i + 2] == want_nginx, path
        assert _rfc_second(h, s, second) == want_rfc, path


S = Step
OK1 = Resource({"Cache-Control": "max-age=1"})
OK1_SIE = Resource({"Cache-Control": "max-age=1, stale-if-error=10"})
E500 = Resource({"Cache-Control": "no-store"}, status=500)
SCENARIOS = {
    # max-age=1 from a start at x.5: HIT at +1.0 (nginx: fresh while now <= fetch second + 1), then expired
    "expiry": (dict(), {"/r": Resource({"Cache-Control": "max-age=1", "ETag": '"v1"'})},
               [S(0, "/r"), S(0.3, "/r"), S(1.0, "/r"), S(2.0, "/r"), S(2.3, "/r")],
               ["MISS", "HIT", "HIT", "EXPIRED", "HIT"]),
    "revalidate": (dict(revalidate=True), {"/r": Resource({"Cache-Control": "max-age=1", "ETag": '"v1"'})},
                   [S(0, "/r"), S(0.3, "/r"), S(1.0, "/r"), S(2.0, "/r"), S(2.3, "/r")],
                   ["MISS", "HIT", "HIT", "REVALIDATED", "HIT"]),
    "lock": (dict(lock=True), {"/s": Resource({"Cache-Control": "max-age=60"}, delay=0.8)},
             [S(0, "/s"), S(0.2, "/s"), S(0.3, "/s"), S(0.4, "/s"), S(1.2, "/s")],
             ["MISS", "HIT", "HIT", "HIT", "HIT"]),
    "no-lock": (dict(), {"/s": Resource({"Cache-Control": "max-age=60"}, delay=0.8)},
                [S(0, "/s"), S(0.2, "/s"), S(0.3, "/s"), S(0.4, "/s"), S(1.2, "/s")],
                ["MISS", "MISS", "MISS", "MISS", "HIT"]),
    "use-stale-updating": (dict(use_stale=("updating",)), {"/u": Resource({"Cache-Control": "max-age=1"}, delay=0.6)},
                           [S(0, "/u"), S(3.0, "/u"), S(3.2, "/u"), S(3.4, "/u"), S(3.8, "/u")],
                           ["MISS", "EXPIRED", "UPDATING", "UPDATING", "HIT"]),
    # proxy_cache_lock does not hold requests for an expired entry in nginx 1.22
    "lock-on-expired": (dict(lock=True), {"/u": Resource({"Cache-Control": "max-age=1"}, delay=0.6)},
                        [S(0, "/u"), S(3.0, "/u"), S(3.2, "/u"), S(3.4, "/u"), S(3.8, "/u")],
                        ["MISS", "EXPIRED", "EXPIRED", "EXPIRED", "HIT"]),
    # nginx serves stale while updating even with must-revalidate (RFC 9111 §5.2.2.2 forbids it)
    "must-revalidate-updating": (dict(use_stale=("updating",)),
                                 {"/m": Resource({"Cache-Control": "max-age=1, must-revalidate"}, delay=0.6)},
                                 [S(0, "/m"), S(3.0, "/m"), S(3.2, "/m"), S(3.8, "/m")],
                                 ["MISS", "EXPIRED", "UPDATING", "HIT"]),
    # one entry per variant of Vary (nginx's secondary key), as RFC 9111 §4.1
    "vary": (dict(), {"/v": Resource({"Cache-Control": "max-age=60", "Vary": "Accept-Encoding"})},
             [S(0, "/v", {"Accept-Encoding": "gzip"}), S(0.2, "/v", {"Accept-Encoding": "gzip"}),
              S(0.4, "/v", {"Accept-Encoding": "br"}), S(0.6, "/v", {"Accept-Encoding": "br"}),
              S(0.8, "/v", {"Accept-Encoding": "gzip"}), S(1.0, "/v")],
             ["MISS", "HIT", "MISS", "HIT", "HIT", "MISS"]),
    # the origin changed its ETag: the revalidation gets a 200, not a 304
    "revalidate-changed": (dict(revalidate=True), {"/c": [(0, Resource({"Cache-Control": "max-age=1", "ETag": '"v1"'})),
                                                          (1.0, Resource({"Cache-Control": "max-age=1", "ETag": '"v2"'}))]},
                           [S(0, "/c"), S(2.0, "/c")], ["MISS", "EXPIRED"]),
    # the origin answers 500 after the entry expired
    "use-stale-http_500": (dict(use_stale=("http_500",)), {"/e": [(0, OK1), (1.0, E500)]},
                           [S(0, "/e"), S(2.0, "/e"), S(2.3, "/e")], ["MISS", "STALE", "STALE"]),
    # RFC 5861 §4: stale-if-error covers a 500; nginx passes the 500 on (EXPIRED)
    "stale-if-error-on-500": (dict(), {"/e": [(0, OK1_SIE), (1.0, E500)]},
                              [S(0, "/e"), S(2.0, "/e"), S(2.3, "/e")], ["MISS", "EXPIRED", "EXPIRED"]),
    # the origin closes the connection: stale-if-error (header) or use_stale error serve stale
    "stale-if-error-origin-down": (dict(), {"/e": [(0, OK1_SIE), (1.0, DOWN)]},
                                   [S(0, "/e"), S(2.0, "/e"), S(2.3, "/e")], ["MISS", "STALE", "STALE"]),
    "use-stale-error-origin-down": (dict(use_stale=("error",)), {"/e": [(0, OK1), (1.0, DOWN)]},
                                    [S(0, "/e"), S(2.0, "/e")], ["MISS", "STALE"]),
    "origin-down": (dict(), {"/e": [(0, OK1), (1.0, DOWN)]}, [S(0, "/e"), S(2.0, "/e")], ["MISS", "EXPIRED"]),
    "stale-while-revalidate": (dict(), {"/w": Resource({"Cache-Control": "max-age=1, stale-while-revalidate=10"},
                                                       delay=0.6)},
                               [S(0, "/w"), S(3.0, "/w"), S(3.2, "/w"), S(3.4, "/w"), S(3.8, "/w")],
                               ["MISS", "EXPIRED", "UPDATING", "UPDATING", "HIT"]),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_model_alone(name):
    """The model's sequences, without nginx (they also run where nginx is missing)."""
    opts, resources, steps, want = SCENARIOS[name]
    assert replay_model(resources, steps, T0, **opts) == want


def test_model_cacheability_alone():
    resources = {p: Resource(h, status=s) for p, (h, s, *_rest) in CACHEABILITY.items()}
    for path, (_h, _s, second, want, _r) in CACHEABILITY.items():
        first = second if "Authorization" in second else {}
        assert replay_model(resources, [Step(0, path, first), Step(0.5, path, second)], T0) == want, path


@needs_nginx
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sequence_matches_model(name):
    opts, resources, steps, want = SCENARIOS[name]
    with NginxServer(resources, **opts) as ng:
        real, t0 = replay(ng, steps)
        origin_hits = sum(ng.origin.hits.values())
    assert real == replay_model(resources, steps, t0, **opts)
    assert real == want
    # every status but HIT and UPDATING went to the origin (STALE: the origin failed)
    assert origin_hits == sum(s in ("MISS", "EXPIRED", "REVALIDATED", "STALE") for s in want)


@needs_nginx
def test_stopped_on_every_exit_path():
    ng = NginxServer({"/a": Resource({"Cache-Control": "max-age=60"})})
    with pytest.raises(RuntimeError):
        with ng:
            pid, folder = ng.pid, ng.dir
            assert ng.get("/a")[1] == "MISS"
            raise RuntimeError("boom")
    assert not ng.running and not folder.exists()
    assert str(pid) not in subprocess.run(["pgrep", "nginx"], capture_output=True, text=True).stdout.split()


@needs_nginx
def test_bad_config_is_one_line_error():
    from tradeoff.harness.servers import ServerError

    ng = NginxServer({}, extra=["no_such_directive on;"])
    with pytest.raises(ServerError) as err:
        ng.start()
    assert "no_such_directive" in str(err.value) and "\n" not in str(err.value)
    assert not ng.running


def test_missing_binary_is_one_line_and_leaves_nothing(monkeypatch, tmp_path):
    import tradeoff.harness.servers as servers
    from tradeoff.harness.servers import ServerError

    monkeypatch.setattr(servers, "find_binary", lambda name: None)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    ng = NginxServer({})
    with pytest.raises(ServerError, match=r"nginx not installed \(apt-get install nginx\)"):
        ng.start()
    assert not ng.running and ng.origin is None and list(tmp_path.iterdir()) == []
