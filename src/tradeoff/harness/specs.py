"""The one grammar for choosing named things with parameters on the command line.

``"lru,arc,s3fifo:small_ratio=0.2"``, ``"jump,ring:vnodes=100:hash=md5,maglev"``,
``"rr,p2c:choices=3"``: items are separated by commas; each is a name followed by
``:name=value`` parameters. Values become bool, int or float when they read as
one, else stay strings. Unknown names and parameters raise UserError naming the
choices.

>>> parse_choices("ring:vnodes=100,jump", {"ring": ("vnodes", "hash"), "jump": ()}, "partitioner")
[Choice(name='ring', params={'vnodes': 100}), Choice(name='jump', params={})]
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .errors import UserError


@dataclass(frozen=True)
class Choice:
    """A name with parameters, and the label it goes by in tables and plots."""
    name: str
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "".join(f":{k}={v}" for k, v in self.params.items())


def parse_value(text: str):
    """``"true"``/``"false"`` (and yes/no/on/off) -> bool, then int, then float, else the text."""
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_choices(spec: str | Sequence[str], known: Mapping[str, Sequence[str]], kind: str,
                  *, aliases: Mapping[str, str] | None = None,
                  everything: Sequence[str] | None = None) -> list[Choice]:
    """Parse a comma-separated list of ``name[:param=value...]``.

    ``known`` maps each name to the parameters it takes; ``aliases`` maps other
    spellings to a name; ``everything`` is what ``all`` expands to (if given).
    ``kind`` ("policy", "partitioner") names the thing in error messages."""
    aliases = aliases or {}
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[Choice] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if item == "all" and everything is not None:
            out.extend(Choice(n) for n in everything)
            continue
        name, *pairs = item.split(":")
        name = aliases.get(name.strip().lower(), name.strip().lower())
        if name not in known:
            raise UserError(f"unknown {kind} {item.split(':')[0]!r}: choose from {', '.join(known)}")
        params = {}
        for pair in pairs:
            key, eq, val = pair.partition("=")
            key = key.strip()
            if not eq or not key:
                raise UserError(f"bad {kind} parameter {pair!r} in {item!r}: write name=value")
            if key not in known[name]:
                takes = ", ".join(known[name]) or "no parameters"
                raise UserError(f"unknown parameter {key!r} for {kind} {name!r} (it takes {takes})")
            params[key] = parse_value(val.strip())
        out.append(Choice(name, params))
    if not out:
        raise UserError(f"no {kind} given")
    return out


_TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0,
               "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-z\u00b5]*)\s*$")


def parse_duration(value, what: str = "duration", unit: str = "s") -> float:
    """A duration (``"250ms"``, ``"10s"``, ``"2m"`` (minutes), ``"1h"``, ``"15us"``,
    ``"3ns"``, a timedelta, or a bare number of ``unit``) as a number of ``unit``
    (``"s"`` or ``"ms"``), finite and >= 0; ValueError with one line naming ``what``
    otherwise. The one parser of durations of every area.

    >>> parse_duration("250ms"), parse_duration("2m"), parse_duration(3)
    (0.25, 120.0, 3.0)
    >>> parse_duration("250us", unit="ms"), parse_duration("0.2s", unit="ms"), parse_duration(4, unit="ms")
    (0.25, 200.0, 4.0)
    """
    scale = _TIME_UNITS[unit]
    if isinstance(value, bool):
        raise ValueError(f"bad {what} {value!r}")
    if hasattr(value, "total_seconds"):                 # a timedelta
        x = value.total_seconds() / scale
    elif isinstance(value, numbers.Real):
        x = float(value)
    else:
        m = _DURATION.match(str(value).lower())
        if not m or (m.group(2) and m.group(2) not in _TIME_UNITS):
            raise ValueError(f"bad {what} {value!r}: write a number of {'seconds' if unit == 's' else unit} "
                             f"with an optional unit (ns, us, ms, s, m, h), e.g. 10{unit}")
        x = float(m.group(1)) * _TIME_UNITS[m.group(2) or unit] / scale
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{what} must be finite and >= 0, got {value!r}")
    return x


_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
               "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-z]*)\s*$")


def parse_size(text, what: str = "size") -> int:
    """Bytes from ``"10GB"``, ``"10k"``, ``"512MiB"``, ``"1e6"`` (decimal units, binary
    with an i), >= 0; ValueError with one line naming ``what`` otherwise. The one
    parser of byte sizes of every area.

    >>> parse_size("10GB"), parse_size("10k"), parse_size("512MiB"), parse_size(100)
    (10000000000, 10000, 536870912, 100)
    """
    m = _SIZE.match(str(text).lower())
    if not m or m.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{what} must be a size such as 10GB or 512MB, got {text!r}")
    v = float(m.group(1)) * _SIZE_UNITS[m.group(2)]
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{what} must be >= 0, got {text!r}")
    return int(v)


def parse_count(text, what: str) -> int:
    """``"1e6"``, ``"1_000_000"`` or ``"1000000"`` -> 1000000; anything but a whole
    number >= 1 is a UserError naming ``what`` (the option).

    >>> parse_count("1e6", "--keys"), parse_count("2_000", "--ops")
    (1000000, 2000)
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = float(text)
    else:
        try:
            value = float(str(text).replace("_", ""))
        except ValueError:
            raise UserError(f"{what} must be a count such as 1000000 or 1e6, got {text!r}") from None
    if value != value or value < 1 or value != int(value):
        raise UserError(f"{what} must be a whole number >= 1, got {text!r}")
    return int(value)


def parse_settings(spec: str, allowed: Mapping[str, str], what: str) -> dict:
    """``"interval=2s,rise=2"`` -> ``{"interval": "2s", "rise": "2"}`` with each name
    mapped through ``allowed`` (spelling -> keyword); anything else is a UserError naming
    ``what`` and the names it takes. Values stay text, for the caller to convert."""
    out = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        key, eq, val = pair.partition("=")
        key = key.strip()
        if not eq or key not in allowed:
            raise UserError(f"bad {what} setting {pair!r}: write name=value with name one of "
                            f"{', '.join(dict.fromkeys(allowed))}")
        out[allowed[key]] = val.strip()
    return out
