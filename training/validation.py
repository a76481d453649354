"""Checks every span and relation of a document against the annotation scheme.

Each problem names the task/document and the region so an annotator can find it. ``exclude`` drops
exactly what a problem points at (and relations that lose an argument), so a default run keeps the
rest and counts what it removed; ``--strict`` callers fail instead.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from training.documents import Document, Entity
from training.schema import ENTITY_TYPES, RELATION_ARGUMENTS
from training.sentences import SentenceIndex

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    doc_id: str
    region_id: str | None
    code: str
    message: str
    severity: str = ERROR
    relation: tuple[str, str, str] | None = None  # (type, head, tail) for relation problems

    def __str__(self) -> str:
        where = f"task {self.doc_id}" + (f", region {self.region_id}" if self.region_id else "")
        return f"{self.severity}: {where}: [{self.code}] {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    excluded: Counter = field(default_factory=Counter)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    def extend(self, other: Report) -> None:
        self.problems.extend(other.problems)
        self.excluded.update(other.excluded)


def _is_edge_noise(ch: str) -> bool:
    # Closing brackets/quotes and "%" may legitimately end a span only when paired inside it.
    return ch != "%" and (ch.isspace() or unicodedata.category(ch).startswith(("P", "Z")))


def check_entity(doc: Document, ent: Entity) -> list[Problem]:
    problems = []

    def add(code: str, message: str, severity: str = ERROR) -> None:
        problems.append(Problem(doc.id, ent.id, code, message, severity))

    if ent.type not in ENTITY_TYPES:
        add("unknown_label", f"label {ent.type!r} is not one of {', '.join(ENTITY_TYPES)}")
    if not (0 <= ent.start < ent.end <= len(doc.text)):
        add("out_of_range", f"offsets {ent.start}:{ent.end} outside text of length {len(doc.text)}")
        return problems
    actual = doc.text[ent.start : ent.end]
    if actual != ent.text:
        add("text_mismatch", f"text[{ent.start}:{ent.end}] is {actual!r} but the region says {ent.text!r}")
        return problems
    first, last = actual[0], actual[-1]
    closes_inside = last in ')]"”' and any(o in actual for o in '(["“')
    if _is_edge_noise(first) and first not in '("“' or (_is_edge_noise(last) and not closes_inside):
        add("span_boundary", f"span {actual!r} starts or ends with space or punctuation", WARNING)
    elif _cuts_word(doc.text, ent.start, ent.end):
        add("span_boundary", f"span {actual!r} cuts a word: {_context(doc.text, ent.start, ent.end)!r}", WARNING)
    return problems


def _cuts_word(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return (before.isalnum() and text[start].isalnum()) or (after.isalnum() and text[end - 1].isalnum())


def _context(text: str, start: int, end: int, width: int = 20) -> str:
    return text[max(0, start - width) : start] + "⟦" + text[start:end] + "⟧" + text[end : end + width]


def validate(doc: Document) -> Report:
    report = Report()
    ids = Counter(e.id for e in doc.entities)
    for ent_id, n in ids.items():
        if n > 1:
            report.problems.append(Problem(doc.id, ent_id, "duplicate_id", f"region id used {n} times"))
    bad: set[str] = set()
    for ent in doc.entities:
        found = check_entity(doc, ent)
        report.problems.extend(found)
        if any(p.severity == ERROR for p in found):
            bad.add(ent.id)
    report.problems.extend(_overlaps(doc, bad))
    sentences = SentenceIndex(doc.text)
    by_id = {e.id: e for e in doc.entities}
    for rel in doc.relations:
        key = (rel.type, rel.head, rel.tail)
        where = f"{rel.type} {rel.head}->{rel.tail}"

        def flag(code: str, message: str, region: str | None, severity: str = ERROR, where=where, key=key) -> None:
            report.problems.append(Problem(doc.id, region, code, f"{where}: {message}", severity, key))

        head, tail = by_id.get(rel.head), by_id.get(rel.tail)
        if rel.type not in RELATION_ARGUMENTS:
            flag("unknown_relation", "unknown relation label", rel.head)
        elif head is None or tail is None:
            missing = rel.head if head is None else rel.tail
            flag("missing_region", f"no region {missing!r}", missing)
        elif head.id in bad or tail.id in bad:
            continue
        elif (head.type, tail.type) != RELATION_ARGUMENTS[rel.type]:
            need = RELATION_ARGUMENTS[rel.type]
            flag("argument_types", f"{head.type} -> {tail.type} but {rel.type} needs {need[0]} -> {need[1]}", rel.head)
        elif not sentences.same_sentence((head.start, head.end), (tail.start, tail.end)):
            flag("cross_sentence", f"{head.text!r} and {tail.text!r} lie in different sentences", rel.head, WARNING)
    return report


def _overlaps(doc: Document, bad: set[str]) -> list[Problem]:
    spans = sorted((e for e in doc.entities if e.id not in bad), key=lambda e: (e.start, -e.end))
    problems = []
    for prev, cur in zip(spans, spans[1:]):
        if cur.start < prev.end:
            kind = "nested" if cur.end <= prev.end else "overlapping"
            problems.append(
                Problem(doc.id, cur.id, "overlap", f"{kind} with region {prev.id}: {prev.text!r} / {cur.text!r}")
            )
    return problems


def exclude(doc: Document, report: Report) -> tuple[Document, Counter]:
    """The document without what the report flags as errors, and counts of what was removed."""
    errors = [p for p in report.problems if p.doc_id == doc.id and p.severity == ERROR]
    bad_entities = {p.region_id for p in errors if p.relation is None}
    bad_relations = {p.relation for p in errors if p.relation is not None}
    entities = [e for e in doc.entities if e.id not in bad_entities]
    keep_ids = {e.id for e in entities}
    relations = [
        r
        for r in doc.relations
        if r.head in keep_ids and r.tail in keep_ids and (r.type, r.head, r.tail) not in bad_relations
    ]
    removed = Counter(entities=len(doc.entities) - len(entities), relations=len(doc.relations) - len(relations))
    return Document(doc.id, doc.text, entities, relations, doc.meta), removed
