"""Corpus statistics and the annotation-consistency lint."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from training.documents import Document
from training.schema import ENTITY_TYPES, RELATION_TYPES
from training.sentences import sentence_spans

# METRIC surfaces are numbers: the same string rarely means the same thing twice.
LINTED_TYPES = ("PERSON", "TITLE", "ORG", "RESOLUTION")


def corpus_stats(documents: list[Document]) -> dict:
    entities = Counter(e.type for d in documents for e in d.entities)
    relations = Counter(r.type for d in documents for r in d.relations)
    surfaces: dict[str, set[str]] = defaultdict(set)
    for doc in documents:
        for ent in doc.entities:
            surfaces[ent.type].add(ent.text)
    return {
        "documents": len(documents),
        "characters": sum(len(d.text) for d in documents),
        "utf8_bytes": sum(len(d.text.encode("utf-8")) for d in documents),
        "sentences": sum(len(sentence_spans(d.text)) for d in documents),
        "entities": sum(entities.values()),
        "relations": sum(relations.values()),
        "entities_per_type": {t: entities.get(t, 0) for t in ENTITY_TYPES},
        "relations_per_type": {t: relations.get(t, 0) for t in RELATION_TYPES},
        "distinct_surfaces_per_type": {t: len(surfaces.get(t, ())) for t in ENTITY_TYPES},
    }


@dataclass(frozen=True)
class Conflict:
    surface: str
    annotated_as: dict[str, int]
    unannotated: int
    locations: list[str]

    def __str__(self) -> str:
        kinds = ", ".join(f"{t}×{n}" for t, n in sorted(self.annotated_as.items()))
        head = f"{self.surface!r}: annotated {kinds}; left unannotated ×{self.unannotated}"
        return head + "".join(f"\n    {loc}" for loc in self.locations)


def consistency_lint(
    documents: list[Document], allowed: set[str] = frozenset(), max_locations: int = 6
) -> list[Conflict]:
    """Surfaces typed one way somewhere and typed otherwise, or left bare, elsewhere."""
    typed: dict[str, Counter] = defaultdict(Counter)
    for doc in documents:
        for ent in doc.entities:
            if ent.type in LINTED_TYPES:
                typed[ent.text][ent.type] += 1
    conflicts = []
    patterns = {s: re.compile(r"(?<!\w)" + re.escape(s) + r"(?!\w)") for s in typed if s not in allowed and len(s) > 2}
    bare: dict[str, list[str]] = defaultdict(list)
    for doc in documents:
        covered = sorted((e.start, e.end) for e in doc.entities)
        for surface, pattern in patterns.items():
            if surface not in doc.text:
                continue
            for match in pattern.finditer(doc.text):
                if not any(s < match.end() and match.start() < e for s, e in covered):
                    ctx = doc.text[max(0, match.start() - 30) : match.end() + 30].replace("\n", " ")
                    bare[surface].append(f"{doc.id}@{match.start()}: …{ctx}…")
    for surface, types in sorted(typed.items()):
        if surface in allowed:
            continue
        if len(types) > 1 or bare.get(surface):
            locations = bare.get(surface, [])
            conflicts.append(Conflict(surface, dict(types), len(locations), locations[:max_locations]))
    return conflicts


def format_stats(stats: dict) -> str:
    lines = [
        f"documents   {stats['documents']}",
        f"sentences   {stats['sentences']}",
        f"text        {stats['characters']} characters, {stats['utf8_bytes'] / 1024:.1f} KB UTF-8",
        f"entities    {stats['entities']}",
        f"relations   {stats['relations']}",
        "",
        f"{'entity type':<12} {'mentions':>9} {'distinct':>9}",
    ]
    for t in ENTITY_TYPES:
        lines.append(f"{t:<12} {stats['entities_per_type'][t]:>9} {stats['distinct_surfaces_per_type'][t]:>9}")
    lines += ["", f"{'relation':<12} {'count':>9}"]
    lines += [f"{t:<12} {stats['relations_per_type'][t]:>9}" for t in RELATION_TYPES]
    return "\n".join(lines)
