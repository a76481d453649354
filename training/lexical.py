"""Hashed lexical features per word, the feature set a linear-chain CRF tagger would use.

The encoder sees words through sub-word embeddings that, for a model trained from scratch on a few
hundred documents, generalise poorly; these features give the tagger the word itself, its first and
last syllables, its neighbours and their shapes directly. Hashing with a fixed function (crc32,
not Python's salted ``hash``) keeps ids identical across processes and runs.
"""

from __future__ import annotations

import zlib

from training.features import word_shape

LEXICAL_BUCKETS = 1 << 17
FEATURES_PER_WORD = 14


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
