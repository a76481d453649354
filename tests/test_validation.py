"""Each scheme check reports the offending task and region; default mode keeps the rest and counts."""

from __future__ import annotations

import pytest

from training.documents import Document, Entity, Relation
from training.validation import ERROR, WARNING, exclude, validate

TEXT = "Đồng chí Lê Văn Tám, Bí thư Tỉnh ủy Cà Mau dự họp. Tỉnh ủy ban hành Kế hoạch số 79-KH/TU."


def ent(eid: str, kind: str, surface: str, occurrence: int = 0) -> Entity:
    start = -1
    for _ in range(occurrence + 1):
        start = TEXT.index(surface, start + 1)
    return Entity(eid, kind, start, start + len(surface), surface)


GOOD = [
    ent("p", "PERSON", "Lê Văn Tám"),
    ent("t", "TITLE", "Bí thư"),
    ent("o", "ORG", "Tỉnh ủy Cà Mau"),
    ent("o2", "ORG", "Tỉnh ủy", 1),
    ent("r", "RESOLUTION", "Kế hoạch số 79-KH/TU"),
]
GOOD_RELATIONS = [Relation("HAS_TITLE", "p", "t"), Relation("TITLE_OF", "t", "o"), Relation("ISSUED_BY", "r", "o2")]


def codes(doc: Document) -> list[tuple[str, str | None, str]]:
    return [(p.code, p.region_id, p.severity) for p in validate(doc).problems]


def test_clean_document_has_no_problems():
    assert codes(Document("d", TEXT, GOOD, GOOD_RELATIONS)) == []


def test_text_mismatch_names_region():
    shifted = Entity("p", "PERSON", GOOD[0].start + 1, GOOD[0].end + 1, "Lê Văn Tám")
    assert codes(Document("d", TEXT, [shifted])) == [("text_mismatch", "p", ERROR)]


def test_out_of_range():
    assert codes(Document("d", TEXT, [Entity("x", "ORG", len(TEXT) - 2, len(TEXT) + 5, "U.")])) == [
        ("out_of_range", "x", ERROR)
    ]


def test_unknown_label():
    bad = Entity("p", "PER", GOOD[0].start, GOOD[0].end, GOOD[0].text)
    assert ("unknown_label", "p", ERROR) in codes(Document("d", TEXT, [bad]))


@pytest.mark.parametrize(
    "inner,kind",
    [(("Tỉnh ủy", 0), "nested"), (("Cà Mau dự", 0), "overlapping")],
)
def test_overlapping_and_nested_spans(inner, kind):
    other = ent("z", "ORG", *inner)
    problems = validate(Document("d", TEXT, [GOOD[2], other])).problems
    assert [(p.code, p.region_id) for p in problems] == [("overlap", "z")]
    assert kind in problems[0].message


def test_relation_to_missing_region():
    doc = Document("d", TEXT, GOOD, [Relation("HAS_TITLE", "p", "nope")])
    assert codes(doc) == [("missing_region", "nope", ERROR)]


def test_relation_with_wrong_argument_types():
    doc = Document("d", TEXT, GOOD, [Relation("HAS_TITLE", "o", "t")])
    assert codes(doc) == [("argument_types", "o", ERROR)]


def test_relation_across_sentences():
    doc = Document("d", TEXT, GOOD, [Relation("ISSUED_BY", "r", "o")])
    assert codes(doc) == [("cross_sentence", "r", WARNING)]


def test_span_with_trailing_punctuation_or_cut_word():
    comma = Entity("p", "PERSON", GOOD[0].start, GOOD[0].end + 1, "Lê Văn Tám,")
    cut = Entity("q", "PERSON", GOOD[0].start, GOOD[0].end - 1, "Lê Văn Tá")
    assert codes(Document("d", TEXT, [comma])) == [("span_boundary", "p", WARNING)]
    assert codes(Document("d", TEXT, [cut])) == [("span_boundary", "q", WARNING)]


def test_exclude_drops_only_flagged_items_and_counts_them():
    shifted = Entity("p", "PERSON", GOOD[0].start + 1, GOOD[0].end + 1, "Lê Văn Tám")
    doc = Document("d", TEXT, [shifted, *GOOD[1:]], [*GOOD_RELATIONS, Relation("HAS_TITLE", "o", "t")])
    clean, removed = exclude(doc, validate(doc))
    assert [e.id for e in clean.entities] == ["t", "o", "o2", "r"]
    assert [(r.type, r.head, r.tail) for r in clean.relations] == [("TITLE_OF", "t", "o"), ("ISSUED_BY", "r", "o2")]
    assert removed == {"entities": 1, "relations": 2}
