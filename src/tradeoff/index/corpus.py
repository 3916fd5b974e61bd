"""A seeded synthetic text corpus with Zipf-distributed words, for the index benchmarks.

Real text follows Zipf's law (Zipf, "Human Behavior and the Principle of Least
Effort", 1949): the r-th most frequent word has a frequency close to
``1 / r**alpha`` with alpha near 1. The defaults give documents that look like
English to an index:

- ``vocabulary=50_000`` distinct words; word r (0-based rank) is drawn with
  probability ``(r + 1) ** -alpha / H`` where ``H = sum((j + 1) ** -alpha for j < V)``.
  With ``alpha=1.0`` the most frequent word is about 8.8% of all tokens (English
  "the" is 5-7%); about 90 words occur in more than 10% of 100-token documents
  and most of the vocabulary in fewer than 0.1% of them.
- document lengths drawn from a log-normal with ``sigma=0.6`` scaled so that the
  mean is ``mean_length`` (100), rounded, at least 1: short and long documents
  both occur, so BM25's length normalization matters.
- words are pronounceable: rank r is written in bijective base 70 with the
  syllables consonant + vowel (``"ba"``, ``"be"``, ..., ``"zu"``), so the 70 most
  frequent words have one syllable, the next 4,900 two, then three, like real
  text where frequent words are short. Every word is lowercase ASCII letters, so
  the default analyzer of :class:`~tradeoff.index._inverted.InvertedIndex` and
  tantivy's default tokenizer both see exactly the same tokens.

Everything comes from numpy's PCG64 ``default_rng(seed)``: the same arguments give
the same corpus on every machine.

>>> docs = zipf_corpus(3, vocabulary=100, mean_length=5, seed=1)
>>> len(docs), all(isinstance(d, str) and d for d in docs)
(3, True)
>>> zipf_corpus(3, vocabulary=100, mean_length=5, seed=1) == docs
True
>>> vocabulary_words(4)
['ba', 'be', 'bi', 'bo']
"""
from __future__ import annotations

import numpy as np

__all__ = ["zipf_corpus", "zipf_token_ids", "vocabulary_words", "word"]

_CONSONANTS = "bdfgklmnprstvz"          # 14
_VOWELS = "aeiou"                        # 5
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]      # 70, each exactly 2 letters
_LENGTH_SIGMA = 0.6


def word(rank: int) -> str:
    """The word of 0-based frequency rank ``rank``: bijective base-70 numbering with
    consonant-vowel syllables (every syllable is two letters, so two ranks never
    give the same word). O(log rank).

    >>> [word(r) for r in (0, 1, 69, 70, 71, 4969, 4970)]
    ['ba', 'be', 'zu', 'baba', 'babe', 'zuzu', 'bababa']
    """
    if rank < 0:
        raise ValueError(f"rank must be >= 0, got {rank}")
    n = len(_SYLLABLES)
    parts = []
    r = rank + 1
    while r > 0:
        r -= 1
        parts.append(_SYLLABLES[r % n])
        r //= n
    return "".join(reversed(parts))


def vocabulary_words(vocabulary: int) -> list:
    """The words of ranks 0 .. vocabulary - 1 (most frequent first)."""
    return [word(r) for r in range(vocabulary)]


def _check_args(n_docs, vocabulary, mean_length, alpha):
    if int(n_docs) != n_docs or n_docs < 0:
        raise ValueError(f"n_docs must be an integer >= 0, got {n_docs!r}")
    if int(vocabulary) != vocabulary or vocabulary < 1:
        raise ValueError(f"vocabulary must be an integer >= 1, got {vocabulary!r}")
    if not (mean_length >= 1 and np.isfinite(mean_length)):
        raise ValueError(f"mean_length must be finite and >= 1, got {mean_length!r}")
    if not (alpha >= 0 and np.isfinite(alpha)):
        raise ValueError(f"alpha must be finite and >= 0, got {alpha!r}")


def zipf_token_ids(n_docs: int = 100_000, vocabulary: int = 50_000, mean_length: float = 100,
                   alpha: float = 1.0, seed: int = 0):
    """The corpus as token ids: ``(ids, offsets)`` where document i is the word ranks
    ``ids[offsets[i]:offsets[i + 1]]`` (ids int32, offsets int64 of length n_docs + 1).
    :func:`zipf_corpus` writes exactly these documents as text. O(tokens log vocabulary).

    >>> ids, offsets = zipf_token_ids(4, vocabulary=10, mean_length=3, seed=0)
    >>> offsets.shape, int(offsets[-1]) == ids.shape[0], int(ids.max()) < 10
    ((5,), True, True)
    """
    _check_args(n_docs, vocabulary, mean_length, alpha)
    n_docs, vocabulary = int(n_docs), int(vocabulary)
    rng = np.random.default_rng(seed)
    mu = np.log(mean_length) - _LENGTH_SIGMA ** 2 / 2
    lengths = np.maximum(1, np.rint(rng.lognormal(mu, _LENGTH_SIGMA, n_docs))).astype(np.int64)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    weights = np.arange(1, vocabulary + 1, dtype=np.float64) ** -float(alpha)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    u = rng.random(int(offsets[-1]))
    ids = np.searchsorted(cdf, u, side="right")
    np.minimum(ids, vocabulary - 1, out=ids)          # u < 1 always; guard the last rounding
    return ids.astype(np.int32), offsets


def zipf_corpus(n_docs: int = 100_000, vocabulary: int = 50_000, mean_length: float = 100,
                alpha: float = 1.0, seed: int = 0) -> list:
    """``n_docs`` documents (str), words separated by single spaces; see the module
    docstring for the distribution. O(tokens log vocabulary).

    >>> zipf_corpus(2, vocabulary=5, mean_length=4, alpha=1.0, seed=3)
    ['bi be ba ba be ba bi ba ba be ba', 'be']
    """
    ids, offsets = zipf_token_ids(n_docs, vocabulary, mean_length, alpha, seed)
    words = np.array(vocabulary_words(int(vocabulary)), dtype=object)
    tokens = words[ids].tolist()
    off = offsets.tolist()
    join = " ".join
    return [join(tokens[off[i]:off[i + 1]]) for i in range(len(off) - 1)]
