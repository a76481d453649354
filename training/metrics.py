"""Scores as the scheme defines them: strict spans per type, relations end to end, seqeval on words."""

from __future__ import annotations

from collections import Counter

from training.documents import Document
from training.schema import ENTITY_TYPES, RELATION_TYPES


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": n_gold, "predicted": n_pred}


def entity_tuples(docs: list[Document]) -> set[tuple]:
    return {(d.id, e.start, e.end, e.type) for d in docs for e in d.entities}


def relation_tuples(docs: list[Document]) -> set[tuple]:
    out = set()
    for d in docs:
        by_id = {e.id: e for e in d.entities}
        for r in d.relations:
            h, t = by_id.get(r.head), by_id.get(r.tail)
            if h is not None and t is not None:
                out.add((d.id, h.start, h.end, h.type, t.start, t.end, t.type, r.type))
    return out


def _scores(gold: set[tuple], pred: set[tuple], type_of, types) -> dict:
    result = {"micro": prf(len(gold & pred), len(pred), len(gold))}
    for kind in types:
        g = {x for x in gold if type_of(x) == kind}
        p = {x for x in pred if type_of(x) == kind}
        result[kind] = prf(len(g & p), len(p), len(g))
    return result


def entity_scores(gold: list[Document], pred: list[Document]) -> dict:
    return _scores(entity_tuples(gold), entity_tuples(pred), lambda x: x[3], ENTITY_TYPES)


def relation_scores(gold: list[Document], pred: list[Document]) -> dict:
    return _scores(relation_tuples(gold), relation_tuples(pred), lambda x: x[7], RELATION_TYPES)


def confusion(gold: list[Document], pred: list[Document]) -> dict[str, Counter]:
    """Gold type → predicted type for identical spans; 'O' for a span the other side lacks."""
    table: dict[str, Counter] = {t: Counter() for t in (*ENTITY_TYPES, "O")}
    g = {(d, s, e): t for d, s, e, t in entity_tuples(gold)}
    p = {(d, s, e): t for d, s, e, t in entity_tuples(pred)}
    for span, kind in g.items():
        table[kind][p.get(span, "O")] += 1
    for span, kind in p.items():
        if span not in g:
            table["O"][kind] += 1
    return table


def format_confusion(table: dict[str, Counter]) -> str:
    cols = (*ENTITY_TYPES, "O")
    lines = ["gold \\ pred  " + "".join(f"{c[:6]:>8}" for c in cols)]
    for row in cols:
        lines.append(f"{row:<12} " + "".join(f"{table[row][c]:>8}" for c in cols))
    return "\n".join(lines)


def format_scores(scores: dict, title: str) -> str:
    lines = [title, f"  {'type':<12} {'P':>7} {'R':>7} {'F1':>7} {'gold':>6} {'pred':>6}"]
    for kind, s in scores.items():
        lines.append(
            f"  {kind:<12} {s['precision']:>7.4f} {s['recall']:>7.4f} {s['f1']:>7.4f}"
            f" {s['support']:>6} {s['predicted']:>6}"
        )
    return "\n".join(lines)
