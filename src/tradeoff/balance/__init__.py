"""Load balancing: policies, health checks, outlier ejection, L7/L4 routing, and
a discrete-event simulator that measures the tail latency they give.

Policies (``Balancer`` subclasses; ``pick(client=None) -> server index``,
``done(server, duration=None)``, ``mark_down``/``mark_up``, ``set_weight``):
``RoundRobin``, ``WeightedRoundRobin`` (nginx's smooth WRR), ``LeastConnections``,
``IPHash`` (a ring over the servers), ``Random``, ``PowerOfTwoChoices`` and
``LeastResponseTime``. ``HealthCheck`` (HAProxy's rise and fall) and
``OutlierDetector`` (Envoy's consecutive errors) take servers out of rotation.
``Router``/``L4Router`` route requests to pools by path, header and cookie, with
sticky sessions and A/B splits. ``simulate(...)`` runs requests through a
policy and a set of queueing servers and returns latency percentiles in units
of the mean service time.

>>> from tradeoff.balance import WeightedRoundRobin
>>> b = WeightedRoundRobin(["a", "b", "c"], [5, 1, 1])
>>> "".join(b.names[b.pick()] for _ in range(7))
'aabacaa'
"""
from ._base import Balancer, HealthCheck, NoServerAvailable, OutlierDetector
from ._impl import (IPHash, LeastConnections, LeastResponseTime, PowerOfTwoChoices, Random,
                    RoundRobin, WeightedRoundRobin)
from .routing import (Cookie, Header, L4Router, NoRoute, PathPrefix, Request, Route, Router, Split,
                      Sticky)
from .simulator import (SimResult, parse_arrivals, parse_duration, parse_failures, parse_service,
                       simulate)

__all__ = ["Balancer", "HealthCheck", "OutlierDetector", "NoServerAvailable", "RoundRobin",
           "WeightedRoundRobin", "LeastConnections", "IPHash", "Random", "PowerOfTwoChoices",
           "LeastResponseTime", "Router", "L4Router", "Route", "Request", "PathPrefix", "Header",
           "Cookie", "Sticky", "Split", "NoRoute", "simulate", "SimResult", "parse_service",
           "parse_arrivals", "parse_failures", "parse_duration"]
