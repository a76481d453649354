from __future__ import annotations

from training.documents import Document, Entity
from training.splits import assign_splits, split_of
from training.stats import consistency_lint, corpus_stats


def test_split_is_stable_when_documents_are_added():
    ids = [f"doc-{i}" for i in range(500)]
    before = assign_splits(ids)
    after = assign_splits(ids + [f"new-{i}" for i in range(500)])
    assert all(after[i] == before[i] for i in ids)
    counts = {s: sum(1 for v in before.values() if v == s) for s in ("train", "dev", "test")}
    assert 300 < counts["train"] < 500 and counts["dev"] > 20 and counts["test"] > 20
    assert split_of("doc-1") == split_of("doc-1")


def test_lint_finds_bare_and_differently_typed_surfaces():
    a = Document("a", "Tỉnh ủy Cà Mau họp.", [Entity("o", "ORG", 0, 14, "Tỉnh ủy Cà Mau")])
    b = Document("b", "Tại Tỉnh ủy Cà Mau có 5 người.", [])
    c = Document("c", "Tỉnh ủy Cà Mau", [Entity("x", "PERSON", 0, 14, "Tỉnh ủy Cà Mau")])
    conflicts = consistency_lint([a, b, c])
    assert len(conflicts) == 1
    assert conflicts[0].annotated_as == {"ORG": 1, "PERSON": 1}
    assert conflicts[0].unannotated == 1 and conflicts[0].locations[0].startswith("b@4")
    assert consistency_lint([a, b, c], allowed={"Tỉnh ủy Cà Mau"}) == []


def test_stats_count_types():
    a = Document("a", "Tỉnh ủy Cà Mau họp. Lần hai.", [Entity("o", "ORG", 0, 14, "Tỉnh ủy Cà Mau")])
    stats = corpus_stats([a])
    assert stats["sentences"] == 2 and stats["entities_per_type"]["ORG"] == 1
    assert stats["distinct_surfaces_per_type"]["ORG"] == 1
