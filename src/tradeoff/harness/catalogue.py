"""One catalogue of choices per area: what can be chosen, with what parameters, built
how, compared with which peer, and described in one line.

Each area declares its choices once (``tradeoff.cache.POLICY_SPECS``,
``tradeoff.ring.PARTITIONERS``, ``tradeoff.balance.POLICIES``, ``tradeoff.index.KINDS``)
and everything else reads from that: the ``simulate`` command's parsing, its help text and
its ``all``, the suites' parameter lists, the peer lookups, the tests' parametrization. A
new policy is one :class:`Entry` in its area's catalogue.

>>> cat = Catalogue("policy", [Entry("lru", "_impl.LRU", summary="least recently used"),
...                            Entry("p2c", "_impl.P2C", {"choices": 2}, aliases=("pow2",))],
...                 package="tradeoff.balance")
>>> [c.label for c in cat.parse("pow2:choices=3,lru")]
['p2c:choices=3', 'lru']
>>> cat.help()
'lru, p2c:choices=2'
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from .errors import UserError
from .specs import Choice, parse_choices

__all__ = ["Catalogue", "Choice", "Entry"]


@dataclass(frozen=True)
class Entry:
    """One choice of an area.

    ``target`` is ``"module.Class"`` under the area's package; ``params`` maps each
    parameter a user may set to its default (None: the class's own default);
    ``fixed`` are keyword arguments always passed; ``peer`` names the peer library's
    counterpart, if one exists (the key the area's peer adapter knows); ``summary`` is its
    line in the docs and the help; ``tags`` mark what some uses leave out (``offline``:
    needs the whole trace; ``slow``: O(n) per operation).
    """
    name: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    peer: str | None = None
    aliases: tuple[str, ...] = ()
    tags: frozenset = frozenset()

    def spec(self) -> str:
        """The entry as a user would write it with its defaults: ``p2c:choices=2``."""
        shown = [f":{k}={v}" for k, v in self.params.items() if v is not None]
        return self.name + "".join(shown)


class Catalogue(Mapping):
    """The choices of one area, by name; a read-only mapping ``name -> Entry``.

    ``kind`` names a choice in messages (``policy``, ``partitioner``); ``package`` is the
    area's package, where each entry's ``target`` is imported from.
    """

    def __init__(self, kind: str, entries: Sequence[Entry], *, package: str):
        self.kind = kind
        self.package = package
        self._entries = {e.name: e for e in entries}
        if len(self._entries) != len(entries):
            raise ValueError(f"two {kind} entries share a name")
        self.aliases = {a: e.name for e in entries for a in e.aliases}

    def __getitem__(self, name: str) -> Entry:
        return self._entries[self.aliases.get(name, name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Catalogue({self.kind!r}, {list(self._entries)})"

    @property
    def names(self) -> list[str]:
        """Every name, in the catalogue's order."""
        return list(self._entries)

    def tagged(self, tag: str, present: bool = True) -> list[str]:
        """The names with (or, ``present=False``, without) ``tag``."""
        return [n for n, e in self._entries.items() if (tag in e.tags) == present]

    def with_peer(self) -> list[str]:
        """The names that have a peer counterpart."""
        return [n for n, e in self._entries.items() if e.peer]

    def parse(self, spec: str | Sequence[str], everything: Sequence[str] | None = None) -> list[Choice]:
        """``"lru,s3fifo:small_ratio=0.2"`` -> choices (``all``: every name, or
        ``everything``); unknown names or parameters raise UserError naming the choices."""
        known = {n: tuple(e.params) for n, e in self._entries.items()}
        return parse_choices(spec, known, self.kind, aliases=self.aliases,
                             everything=list(everything) if everything is not None else self.names)

    def parse_checked(self, spec: str | Sequence[str], build) -> list[Choice]:
        """:meth:`parse`, then ``build(choice)`` for each choice (a small instance), so that
        a bad value is a UserError before any work, not in the middle of it."""
        out = self.parse(spec)
        for choice in out:
            build(choice)
        return out

    def choice(self, choice: Choice | str) -> Choice:
        """A Choice from a Choice or a one-item spec string."""
        return choice if isinstance(choice, Choice) else self.parse(choice)[0]

    def cls(self, name: str):
        """The class an entry's ``target`` names, imported."""
        module, _, attr = self[name].target.rpartition(".")
        return getattr(importlib.import_module(f"{self.package}.{module}"), attr)

    def build(self, choice: Choice | str, *args, **kwargs):
        """``Class(*args, **fixed, **kwargs, **choice.params)``; a bad value is a UserError
        naming the choice: ``policy p2c:choices=0: choices must be >= 2, got 0``."""
        choice = self.choice(choice)
        entry = self[choice.name]
        try:
            return self.cls(choice.name)(*args, **{**entry.fixed, **kwargs, **choice.params})
        except (ValueError, TypeError, OverflowError) as exc:
            raise UserError(f"{self.kind} {choice.label}: {exc}") from None

    def help(self) -> str:
        """Every entry with its parameters' defaults, for a command's ``--help``."""
        return ", ".join(e.spec() for e in self._entries.values())

    def describe(self) -> str:
        """One line per entry: its name, parameters and summary (for docs and ``--help``)."""
        width = max((len(e.spec()) for e in self._entries.values()), default=0)
        return "\n".join(f"{e.spec():<{width}}  {e.summary}".rstrip() for e in self._entries.values())
