"""Build a PhoBERT-format tokenizer (vocab.txt + bpe.codes) from segmented text.

For machines with no PhoBERT files: the result loads with ``PhobertTokenizer`` exactly like the
real one, so everything downstream is the same code path.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

END = "</w>"


def learn_bpe(word_counts: Counter, merges: int, min_frequency: int = 2) -> list[tuple[str, str, int]]:
    """Merge operations, most frequent pair first (Sennrich et al.'s algorithm, incremental counts)."""
    words = [(list(w[:-1]) + [w[-1] + END], n) for w, n in word_counts.items() if w]
    pair_counts: Counter = Counter()
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for index, (symbols, n) in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += n
            where[pair].add(index)
    # A lazy max-heap: stale entries are re-checked against the live count when popped.
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    result = []
    while heap and len(result) < merges:
        negative, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count != -negative:
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        if count < min_frequency:
            break
        result.append((pair[0], pair[1], count))
        merged = pair[0] + pair[1]
        touched = set()
        for index in list(where.pop(pair, ())):
            symbols, n = words[index]
            for old in zip(symbols, symbols[1:]):
                pair_counts[old] -= n
                if pair_counts[old] <= 0:
                    del pair_counts[old]
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[index] = (out, n)
            for new in zip(out, out[1:]):
                pair_counts[new] += n
                where[new].add(index)
                touched.add(new)
        pair_counts.pop(pair, None)
        for new in touched:
            if new in pair_counts:
                heapq.heappush(heap, (-pair_counts[new], new))
    return result


def apply_merges(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    symbols = list(word[:-1]) + [word[-1] + END]
    while len(symbols) > 1:
        pairs = [(ranks.get(p, 1 << 30), i) for i, p in enumerate(zip(symbols, symbols[1:]))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
    return symbols


def build_tokenizer_files(forms: Iterable[str], out_dir: str | Path, vocab_size: int = 8000) -> Path:
    """Write vocab.txt, bpe.codes and tokenizer_config.json for ``PhobertTokenizer`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    word_counts = Counter(f for f in forms if f)
    merges = learn_bpe(word_counts, merges=vocab_size)
    ranks = {(a, b): i for i, (a, b, _) in enumerate(merges)}
    units: Counter = Counter()
    for word, n in word_counts.items():
        for symbol in apply_merges(word, ranks):
            units[symbol[: -len(END)] if symbol.endswith(END) else symbol + "@@"] += n
    for word in word_counts:  # every single character stays reachable
        for ch in word:
            units[ch + "@@"] += 0
            units[ch] += 0
    ordered = sorted(units.items(), key=lambda kv: (-kv[1], kv[0]))
    (out_dir / "vocab.txt").write_text("".join(f"{u} {max(n, 1)}\n" for u, n in ordered), encoding="utf-8")
    (out_dir / "bpe.codes").write_text("".join(f"{a} {b} {n}\n" for a, b, n in merges), encoding="utf-8")
    config = {"tokenizer_class": "PhobertTokenizer", "model_max_length": 256}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return out_dir
