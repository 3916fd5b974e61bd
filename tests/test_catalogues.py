"""The areas' catalogues: every entry builds, documents itself and round-trips through
the spec grammar, and every peer it names is one its area's adapter knows."""
import pytest

from tradeoff.balance.experiment import POLICIES as BALANCE
from tradeoff.cache import POLICY_SPECS as CACHE, make_engine
from tradeoff.harness.catalogue import Catalogue, Entry
from tradeoff.harness.errors import UserError
from tradeoff.index.experiment import KINDS as INDEX
from tradeoff.ring.experiment import PARTITIONERS as RING, make as make_partitioner

CATALOGUES = {"cache": CACHE, "ring": RING, "balance": BALANCE, "index": INDEX}


@pytest.mark.parametrize("area", sorted(CATALOGUES))
def test_every_entry_documents_itself_and_its_help_parses_back(area):
    cat = CATALOGUES[area]
    assert cat.names and len(set(cat.names)) == len(cat.names)
    for name in cat:
        entry = cat[name]
        assert entry.summary, f"{area}: {name} has no summary line"
        assert cat.cls(name) is not None
        for alias in entry.aliases:
            assert cat[alias] is entry
    labels = [c.label for c in cat.parse(cat.help().replace(" ", ""))]
    assert labels == [cat[n].spec() for n in cat.names]          # the help is valid input
    assert [c.name for c in cat.parse("all")] == cat.names


@pytest.mark.parametrize("name", CACHE.names)
def test_every_cache_policy_builds_with_its_defaults_and_has_its_libcachesim_peer(name):
    peers = pytest.importorskip("tradeoff.suites._peers")
    engine = make_engine(name, 10, **CACHE[name].params)
    assert engine is not None
    assert CACHE[name].peer in peers.LIBCACHESIM_POLICIES


@pytest.mark.parametrize("name", RING.names)
def test_every_partitioner_builds_from_the_catalogue(name):
    part = make_partitioner(name, 5)
    assert part.lookup(12345) in [f"node{i:04d}" for i in range(5)]


@pytest.mark.parametrize("name", BALANCE.names)
def test_every_balancer_builds_from_the_catalogue(name):
    assert len(BALANCE.build(name, 4)) == 4


def test_a_bad_value_names_the_choice_and_an_unknown_name_lists_the_choices():
    with pytest.raises(UserError, match=r"^policy p2c:choices=0: "):
        BALANCE.build("p2c:choices=0", 4)
    with pytest.raises(UserError, match="unknown policy 'fastest': choose from rr, wrr"):
        BALANCE.parse("fastest")
    with pytest.raises(UserError, match="unknown parameter 'dice' for policy 'p2c'"):
        BALANCE.parse("p2c:dice=2")


def test_a_catalogue_refuses_two_entries_of_one_name():
    with pytest.raises(ValueError, match="share a name"):
        Catalogue("policy", [Entry("a", "m.A"), Entry("a", "m.B")], package="tradeoff")
