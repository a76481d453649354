"""training.labelstudio against exports shaped as Label Studio really writes them, plus a
round-trip property: documents -> tasks -> documents is the identity up to relation ids."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training.data import load_documents
from training.documents import Document, Entity, Relation
from training.labelstudio import (
    FROM_NAME,
    TO_NAME,
    documents_to_tasks,
    read_export,
    tasks_to_documents,
    utf16_to_codepoint,
)
from training.schema import ENTITY_TYPES, RELATION_TYPES
from training.validation import validate

TEXT = "Đồng chí Nguyễn Văn Hiếu, Bí thư Thành ủy Cần Thơ, chủ trì hội nghị."


def span_of(text: str, surface: str) -> tuple[int, int]:
    start = text.index(surface)
    return start, start + len(surface)


def region(
    rid: str, label: str, surface: str, text: str = TEXT, start: int | None = None, end: int | None = None
) -> dict:
    s, e = span_of(text, surface)
    value = {
        "start": s if start is None else start,
        "end": e if end is None else end,
        "text": surface,
        "labels": [label],
    }
    return {"id": rid, "from_name": FROM_NAME, "to_name": TO_NAME, "type": "labels", "origin": "manual", "value": value}


def relation(from_id: str, to_id: str, label: str, direction: str = "right") -> dict:
    return {"from_id": from_id, "to_id": to_id, "type": "relation", "direction": direction, "labels": [label]}


PERSON = region("per", "PERSON", "Nguyễn Văn Hiếu")
TITLE = region("tit", "TITLE", "Bí thư")
ORG = region("org", "ORG", "Thành ủy Cần Thơ")


def annotation(aid: int, result: list[dict], **extra) -> dict:
    """An annotation object with the fields a Label Studio 1.23 export carries."""
    return {
        "id": aid,
        "completed_by": 1,
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": "2025-03-01T08:00:00.000000Z",
        "updated_at": "2025-03-01T08:00:00.000000Z",
        "lead_time": 10.0,
        "prediction": {},
        "result_count": len(result),
        "task": 1,
        "project": 1,
        "parent_prediction": None,
        "parent_annotation": None,
    } | extra


def task(annotations: list | None = None, predictions: list | None = None, text: str = TEXT, **data) -> dict:
    return {
        "id": 1,
        "annotations": annotations or [],
        "drafts": [],
        "predictions": predictions or [],
        "data": {"text": text, "doc_id": "doc-1", **data},
        "meta": {},
        "created_at": "2025-03-01T07:00:00.000000Z",
        "updated_at": "2025-03-01T08:00:00.000000Z",
        "inner_id": 1,
        "total_annotations": len(annotations or []),
        "cancelled_annotations": 0,
        "total_predictions": len(predictions or []),
        "project": 1,
    }


def only_doc(tasks: list[dict], source: str = "annotations") -> Document:
    conversion = tasks_to_documents(tasks, source=source)
    assert len(conversion.documents) == 1, conversion.problems
    return conversion.documents[0]


def entity_ids(doc: Document) -> list[str]:
    return [e.id for e in doc.entities]


# --- choosing among several annotations ------------------------------------------------------


def test_ground_truth_wins_over_a_more_recent_annotation():
    gt = annotation(1, [PERSON], ground_truth=True, updated_at="2025-03-01T08:00:00.000000Z")
    newer = annotation(2, [TITLE], updated_at="2025-03-09T08:00:00.000000Z")
    assert entity_ids(only_doc([task([newer, gt])])) == ["per"]


def test_cancelled_annotations_are_skipped_and_counted():
    kept = annotation(1, [PERSON], updated_at="2025-03-01T08:00:00.000000Z")
    skipped = annotation(2, [], was_cancelled=True, updated_at="2025-03-09T08:00:00.000000Z")
    skipped_gt = annotation(3, [ORG], was_cancelled=True, ground_truth=True)
    conversion = tasks_to_documents([task([kept, skipped, skipped_gt])])
    assert entity_ids(conversion.documents[0]) == ["per"]
    assert conversion.counts["cancelled_annotations"] == 2


def test_a_task_with_only_cancelled_annotations_is_left_out_with_a_warning():
    conversion = tasks_to_documents([task([annotation(1, [], was_cancelled=True)])])
    assert conversion.documents == []
    assert [(p.code, p.severity) for p in conversion.problems] == [("no_annotations", "warning")]


def test_most_recent_annotation_wins_otherwise():
    old = annotation(1, [PERSON], updated_at="2025-03-01T08:00:00.000000Z")
    new = annotation(2, [TITLE], updated_at="2025-03-02T08:00:00.000000Z")
    older_created = annotation(3, [ORG], created_at="2025-02-01T08:00:00.000000Z", updated_at=None)
    assert entity_ids(only_doc([task([new, old, older_created])])) == ["tit"]
    assert tasks_to_documents([task([new, old])]).counts["tasks_with_several_annotations"] == 1


def test_recency_compares_times_not_strings():
    # Django drops ".000000" when the microseconds are zero; as strings "...:00Z" sorts after "...:00.5Z"
    earlier = annotation(1, [PERSON], updated_at="2025-03-01T08:00:00Z")
    later = annotation(2, [TITLE], updated_at="2025-03-01T08:00:00.500000Z")
    assert entity_ids(only_doc([task([earlier, later])])) == ["tit"]


def test_without_times_the_higher_id_is_the_more_recent():
    nine = annotation(9, [PERSON], created_at=None, updated_at=None)
    ten = annotation(10, [TITLE], created_at=None, updated_at=None)
    assert entity_ids(only_doc([task([ten, nine])])) == ["tit"]


# --- predictions as ids or as objects --------------------------------------------------------


def prediction(pid: int, result: list[dict], score: float | None = 0.5, **extra) -> dict:
    return {
        "id": pid,
        "result": result,
        "model_version": "tiny-1",
        "created_ago": "0 minutes",
        "score": score,
        "cluster": None,
        "neighbors": None,
        "mislabeling": 0.0,
        "created_at": "2025-03-01T08:00:00.000000Z",
        "updated_at": "2025-03-01T08:00:00.000000Z",
        "model": None,
        "model_run": None,
        "task": 1,
        "project": 1,
    } | extra


def test_predictions_given_in_full_are_converted_with_scores():
    scored = [PERSON | {"score": 0.9}, TITLE | {"score": 0.8}, relation("per", "tit", "HAS_TITLE") | {"score": 0.7}]
    doc = only_doc([task(predictions=[prediction(5, scored)])], source="predictions")
    assert [(e.id, e.score) for e in doc.entities] == [("per", 0.9), ("tit", 0.8)]
    assert doc.relations == [Relation("HAS_TITLE", "per", "tit", "R1", 0.7)]


def test_predictions_given_as_ids_are_counted_and_reported_not_misread():
    # the quick /export endpoint writes "predictions": [5, 6]
    conversion = tasks_to_documents([task(predictions=[5, 6])], source="predictions")
    assert conversion.documents == []
    assert conversion.counts["predictions_given_as_ids"] == 2
    assert [p.code for p in conversion.problems] == ["no_predictions"]


def test_annotations_and_predictions_are_read_independently():
    t = task([annotation(1, [PERSON])], [prediction(5, [TITLE])])
    assert entity_ids(only_doc([t])) == ["per"]
    assert entity_ids(only_doc([t], source="predictions")) == ["tit"]


# --- relation direction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrow", "expected"),
    [
        (relation("per", "tit", "HAS_TITLE", "right"), ("per", "tit")),
        (relation("tit", "per", "HAS_TITLE", "left"), ("per", "tit")),
        (relation("tit", "org", "TITLE_OF", "left"), ("org", "tit")),  # as drawn: left means to -> from
        (relation("per", "tit", "HAS_TITLE", "bi"), ("per", "tit")),
        (relation("tit", "per", "HAS_TITLE", "bi"), ("per", "tit")),  # bi takes its order from the scheme
        (relation("org", "tit", "TITLE_OF", "bi"), ("tit", "org")),
        (relation("per", "org", "TITLE_OF", "bi"), ("per", "org")),  # wrong types: left as drawn
    ],
)
def test_relation_direction(arrow, expected):
    doc = only_doc([task([annotation(1, [PERSON, TITLE, ORG, arrow])])])
    assert [(r.head, r.tail) for r in doc.relations] == [expected]


def test_relation_without_direction_reads_as_right():
    arrow = relation("per", "tit", "HAS_TITLE")
    del arrow["direction"]
    assert only_doc([task([annotation(1, [PERSON, TITLE, arrow])])]).relations == [
        Relation("HAS_TITLE", "per", "tit", "R1")
    ]


def test_relation_with_two_labels_gives_two_relations_and_unlabelled_is_reported():
    two = relation("tit", "org", "TITLE_OF") | {"labels": ["TITLE_OF", "HAS_TITLE"]}
    bare = relation("per", "tit", "HAS_TITLE") | {"labels": []}
    conversion = tasks_to_documents([task([annotation(1, [PERSON, TITLE, ORG, two, bare])])])
    assert [(r.type, r.id) for r in conversion.documents[0].relations] == [("TITLE_OF", "R1"), ("HAS_TITLE", "R2")]
    assert [p.code for p in conversion.problems] == ["relation_unlabelled"]


def test_unknown_direction_is_reported():
    conversion = tasks_to_documents([task([annotation(1, [PERSON, TITLE, relation("per", "tit", "HAS_TITLE", "up")])])])
    assert conversion.documents[0].relations == []
    assert [p.code for p in conversion.problems] == ["relation_direction"]


# --- offsets ---------------------------------------------------------------------------------

EMOJI_TEXT = "🇻🇳 Ông Trần Văn Ðức 😀, Bí thư Đảng ủy Khối, phát biểu."


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def utf16_region(rid: str, label: str, surface: str, text: str = EMOJI_TEXT) -> dict:
    """A region as an older editor counted it: JavaScript string offsets, i.e. UTF-16 units."""
    s, e = span_of(text, surface)
    return region(rid, label, surface, text, start=utf16_len(text[:s]), end=utf16_len(text[:e]))


def test_utf16_offsets_after_emoji_are_converted_to_code_points():
    regions = [
        utf16_region("per", "PERSON", "Trần Văn Ðức"),
        utf16_region("tit", "TITLE", "Bí thư"),
        utf16_region("org", "ORG", "Đảng ủy Khối"),
    ]
    assert regions[0]["value"]["start"] != span_of(EMOJI_TEXT, "Trần Văn Ðức")[0]  # the test means something
    conversion = tasks_to_documents([task([annotation(1, regions)], text=EMOJI_TEXT)])
    doc = conversion.documents[0]
    assert [(e.start, e.end) for e in doc.entities] == [
        span_of(EMOJI_TEXT, s) for s in ("Trần Văn Ðức", "Bí thư", "Đảng ủy Khối")
    ]
    assert all(EMOJI_TEXT[e.start : e.end] == e.text for e in doc.entities)
    assert conversion.counts["regions_converted_from_utf16"] == 3
    assert not validate(doc).errors


def test_code_point_offsets_with_emoji_are_kept():
    regions = [region("per", "PERSON", "Trần Văn Ðức", EMOJI_TEXT), region("tit", "TITLE", "Bí thư", EMOJI_TEXT)]
    conversion = tasks_to_documents([task([annotation(1, regions)], text=EMOJI_TEXT)])
    assert [(e.start, e.end) for e in conversion.documents[0].entities] == [
        span_of(EMOJI_TEXT, "Trần Văn Ðức"),
        span_of(EMOJI_TEXT, "Bí thư"),
    ]
    assert conversion.counts["regions_converted_from_utf16"] == 0


def test_offsets_matching_neither_count_are_left_for_validation_to_report():
    bad = region("per", "PERSON", "Trần Văn Ðức", EMOJI_TEXT, start=0, end=5)
    doc = only_doc([task([annotation(1, [bad])], text=EMOJI_TEXT)])
    assert [p.code for p in validate(doc).problems] == ["text_mismatch"]


def test_utf16_to_codepoint():
    text = "a😀b👍🏽c"
    for index in range(len(text) + 1):
        assert utf16_to_codepoint(text, utf16_len(text[:index])) == index


# --- missing regions and other defects -------------------------------------------------------


def test_relation_to_a_missing_region_is_reported_and_excluded(tmp_path):
    tasks = [
        task(
            [annotation(1, [PERSON, TITLE, relation("per", "gone", "HAS_TITLE"), relation("per", "tit", "HAS_TITLE")])]
        )
    ]
    doc = only_doc(tasks)
    problems = validate(doc).problems
    assert [(p.code, p.region_id) for p in problems] == [("missing_region", "gone")]
    assert "HAS_TITLE per->gone" in problems[0].message

    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    loaded = load_documents(path)
    assert loaded.documents[0].relations == [Relation("HAS_TITLE", "per", "tit", "R2")]
    assert loaded.report.excluded["relations"] == 1


def test_region_defects_are_reported_with_task_and_region():
    two_labels = PERSON | {"id": "two", "value": PERSON["value"] | {"labels": ["PERSON", "ORG"]}}
    no_offsets = {
        "id": "nooff",
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "type": "labels",
        "value": {"labels": ["ORG"]},
    }
    conversion = tasks_to_documents([task([annotation(1, [two_labels, no_offsets, TITLE])])])
    assert [(p.doc_id, p.region_id, p.code) for p in conversion.problems] == [
        ("doc-1", "two", "label_count"),
        ("doc-1", "nooff", "bad_offsets"),
    ]
    assert entity_ids(conversion.documents[0]) == ["tit"]


def test_duplicate_doc_ids_and_tasks_without_text_are_reported():
    second = task([annotation(1, [TITLE])]) | {"id": 2}
    no_text = {"id": 3, "data": {"doc_id": "doc-3", "n": 1}, "annotations": []}  # doc_id is not the text
    conversion = tasks_to_documents([task([annotation(1, [PERSON])]), second, no_text, "junk"])
    assert [p.code for p in conversion.problems] == ["duplicate_task", "bad_task", "bad_task"]
    assert [d.id for d in conversion.documents] == ["doc-1"]


def test_text_under_another_key_is_found_next_to_doc_id():
    t = task([annotation(1, [PERSON])])
    t["data"] = {"content": TEXT, "doc_id": "doc-1"}
    assert only_doc([t]).text == TEXT


def test_task_data_besides_text_and_doc_id_becomes_meta():
    doc = only_doc([task([annotation(1, [PERSON])], source="baocantho.com.vn", date="2025-03-01")])
    assert doc.meta == {"source": "baocantho.com.vn", "date": "2025-03-01"}


def test_read_export_takes_a_list_or_a_tasks_object(tmp_path):
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([task()]), encoding="utf-8")
    as_object = tmp_path / "object.json"
    as_object.write_text(json.dumps({"tasks": [task()]}), encoding="utf-8")
    assert read_export(as_list) == read_export(as_object) == [task()]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="list of tasks"):
        read_export(bad)


# --- round-trip property ---------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "Đảng",
        "Ðảng",  # U+00D0, the look-alike of Đ
        "ủy",
        "Bí",
        "thư",
        "Nguyễn",
        "Văn",
        "Hiếu",
        "Thành",
        "Cần",
        "Thơ",
        "Nghị",
        "quyết",
        "số",
        "59-NQ/TW",
        "53,38%",
        "854",
        "đảng",
        "viên",
        "Tha\u0300nh",  # decomposed: a + combining grave
        "ca\u0301c",  # a + combining acute
        "Vie\u0302\u0323t",  # e + circumflex + dot below, all combining
        "😀",
        "🇻🇳",
        "👍🏽",
        "👨‍👩‍👧",
        "(QNO)",
        "“Chung”",
    ]
)
SEPARATORS = st.sampled_from([" ", " ", " ", ", ", ". ", "\n", "\r\n", " – ", "\u00a0"])
SCORES = st.none() | st.floats(min_value=0, max_value=1, allow_nan=False)
META_KEYS = st.sampled_from(["source", "url", "date", "title", "split"])


@st.composite
def documents(draw) -> Document:
    words = draw(st.lists(WORDS, min_size=3, max_size=30))
    seps = [draw(SEPARATORS) for _ in words[1:]]
    text, bounds = "", []
    for i, word in enumerate(words):
        if i:
            text += seps[i - 1]
        bounds.append((len(text), len(text) + len(word)))
        text += word
    # non-overlapping word ranges: cut points over the word indices, every other range a span
    cuts = sorted(draw(st.sets(st.integers(0, len(words)), max_size=len(words) + 1)) | {0, len(words)})
    ranges = [(a, b) for a, b in zip(cuts, cuts[1:]) if draw(st.booleans())]
    entities = []
    for n, (a, b) in enumerate(ranges):
        start, end = bounds[a][0], bounds[b - 1][1]
        entities.append(
            Entity(
                f"e{n}-{draw(st.text('abc', max_size=3))}",
                draw(st.sampled_from(ENTITY_TYPES)),
                start,
                end,
                text[start:end],
                draw(SCORES),
            )
        )
    relations = []
    if len(entities) >= 2:
        for _ in range(draw(st.integers(0, 4))):
            head, tail = draw(st.lists(st.sampled_from(entities), min_size=2, max_size=2, unique_by=lambda e: e.id))
            relations.append(Relation(draw(st.sampled_from(RELATION_TYPES)), head.id, tail.id, "", draw(SCORES)))
    meta = draw(st.dictionaries(META_KEYS, st.text(max_size=5), max_size=2))
    return Document(draw(st.text("abcdefghij0123456789-", min_size=1, max_size=8)), text, entities, relations, meta)


def renumbered(doc: Document) -> Document:
    relations = [Relation(r.type, r.head, r.tail, f"R{i}", r.score) for i, r in enumerate(doc.relations, 1)]
    return Document(doc.id, doc.text, doc.entities, relations, doc.meta)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(documents(), max_size=4, unique_by=lambda d: d.id), st.booleans())
def test_documents_round_trip_through_tasks(docs, as_predictions):
    tasks = json.loads(json.dumps(documents_to_tasks(docs, as_predictions=as_predictions), ensure_ascii=False))
    conversion = tasks_to_documents(tasks, source="predictions" if as_predictions else "annotations")
    assert conversion.problems == []
    assert conversion.documents == [renumbered(d) for d in docs]
    assert conversion.counts["regions_converted_from_utf16"] == 0
