"""Hashed lexical features per word, the feature set a linear-chain CRF tagger would use.

The encoder sees words through sub-word embeddings that, for a model trained from scratch on a few
hundred documents, generalise poorly; these features give the tagger the word itself, its first and
last syllables, its neighbours and their shapes directly. Hashing with a fixed function (crc32,
not Python's salted ``hash``) keeps ids identical across processes and runs.
"""

from __future__ import annotations

import zlib

LEXICAL_BUCKETS = 1 << 17
FEATURES_PER_WORD = 14
SHAPE_VOCAB = 256


def word_shape(form: str) -> int:
    """A small id for how a word looks: case pattern, digits, punctuation, syllable count."""
    syllables = [s for s in form.split("_") if s]
    if not syllables:
        return 1
    first = syllables[0]
    bits = [
        first[:1].isupper(),
        all(s[:1].isupper() for s in syllables),
        all(s.isupper() for s in syllables) and any(c.isalpha() for c in form),
        any(c.isdigit() for c in form),
        not any(c.isalnum() for c in form),
        "%" in form or "/" in form or "-" in form,
    ]
    code = sum(int(b) << i for i, b in enumerate(bits))
    return 2 + code * 3 + min(len(syllables), 3) - 1


def _bucket(feature: str, buckets: int) -> int:
    return 1 + zlib.crc32(feature.encode("utf-8")) % (buckets - 1)  # 0 is padding


def lexical_features(forms: list[str], buckets: int = LEXICAL_BUCKETS) -> list[list[int]]:
    lower = [f.lower() for f in forms]
    shapes = [word_shape(f) for f in forms]
    n = len(forms)

    def at(seq, i, edge):
        return seq[i] if 0 <= i < n else edge

    rows = []
    for i, form in enumerate(forms):
        syllables = lower[i].split("_")
        features = [
            f"w={lower[i]}",
            f"W={form}",
            f"first={syllables[0]}",
            f"last={syllables[-1]}",
            f"suffix={lower[i][-3:]}",
            f"prev={at(lower, i - 1, '<s>')}",
            f"next={at(lower, i + 1, '</s>')}",
            f"prev2={at(lower, i - 2, '<s>')}",
            f"next2={at(lower, i + 2, '</s>')}",
            f"bigram-={at(lower, i - 1, '<s>')}|{lower[i]}",
            f"bigram+={lower[i]}|{at(lower, i + 1, '</s>')}",
            f"shape={at(shapes, i - 1, 0)}|{shapes[i]}|{at(shapes, i + 1, 0)}",
            f"prev-last={at(lower, i - 1, '<s>').split('_')[-1]}",
            f"next-first={at(lower, i + 1, '</s>').split('_')[0]}",
        ]
        rows.append([_bucket(x, buckets) for x in features])
    return rows
