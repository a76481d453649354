"""End to end against a real Label Studio 1.23 server: config, import, a human annotation written
through the API, model predictions and the export all go through training.ls_sync, and the export
must convert back to exactly the documents we meant, offsets after an emoji and relation
directions included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labelstudio_server import LabelStudioServer, label_studio_server, listening_addresses, log_on_failure  # noqa: F401

from training import ls_sync
from training.documents import Document, Entity, Relation, read_jsonl, write_jsonl
from training.labelstudio import FROM_NAME, TO_NAME, read_export, tasks_to_documents
from training.validation import validate

TITLE = "ls_sync integration"

# Đ is U+0110 (Vietnamese), Ð is U+00D0 (the look-alike eth that pasted text sometimes carries);
# the emoji sits before the spans so UTF-16 and code point offsets differ.
TEXT_A = "😀 Ông Nguyễn Văn Đức, Bí thư Thành ủy Cần Thơ, phát biểu tại hội nghị."
TEXT_B = "Ðảng ủy Khối ban hành Kế hoạch số 55 🎉, kết nạp được 854 đảng viên."
TEXT_C = "Đồng chí Trần Thị Kim Chung\r\nPhó Bí thư Tỉnh ủy 👍 dự lễ."


def span(text: str, surface: str) -> tuple[int, int]:
    start = text.index(surface)
    assert text.count(surface) == 1, f"{surface!r} is ambiguous in {text!r}"
    return start, start + len(surface)


def entity(eid: str, type_: str, text: str, surface: str, score: float | None = None) -> Entity:
    return Entity(eid, type_, *span(text, surface), surface, score)


def region(ent: Entity) -> dict:
    """A labels region as the Label Studio editor writes it (code point offsets, surface text)."""
    value = {"start": ent.start, "end": ent.end, "text": ent.text, "labels": [ent.type]}
    return {
        "id": ent.id,
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "type": "labels",
        "origin": "manual",
        "value": value,
    }


def arrow(from_id: str, to_id: str, label: str, direction: str) -> dict:
    return {"type": "relation", "from_id": from_id, "to_id": to_id, "direction": direction, "labels": [label]}


ANNOTATED_A = [
    entity("a-per", "PERSON", TEXT_A, "Nguyễn Văn Đức"),
    entity("a-tit", "TITLE", TEXT_A, "Bí thư"),
    entity("a-org", "ORG", TEXT_A, "Thành ủy Cần Thơ"),
]
ANNOTATED_C = [
    entity("c-per", "PERSON", TEXT_C, "Trần Thị Kim Chung"),
    entity("c-tit", "TITLE", TEXT_C, "Phó Bí thư"),
    entity("c-org", "ORG", TEXT_C, "Tỉnh ủy"),
]

PREDICTED = [
    Document(
        "vn-a",
        TEXT_A,
        [
            entity("p1", "PERSON", TEXT_A, "Nguyễn Văn Đức", 0.91),
            entity("p2", "TITLE", TEXT_A, "Bí thư", 0.82),
            entity("p3", "ORG", TEXT_A, "Thành ủy Cần Thơ", 0.73),
        ],
        [Relation("HAS_TITLE", "p1", "p2", score=0.64), Relation("TITLE_OF", "p2", "p3", score=0.55)],
    ),
    Document(
        "vn-b",
        TEXT_B,
        [
            entity("q1", "ORG", TEXT_B, "Ðảng ủy Khối", 0.9),
            entity("q2", "RESOLUTION", TEXT_B, "Kế hoạch số 55", 0.8),
            entity("q3", "METRIC", TEXT_B, "854 đảng viên", 0.7),
        ],
        [Relation("ISSUED_BY", "q2", "q1", score=0.6), Relation("METRIC_OF", "q3", "q1", score=0.5)],
    ),
    Document("vn-ghost", "Không có tác vụ nào cho văn bản này.", []),  # no such task
    Document("vn-c", TEXT_C + " (bản khác)", []),  # text differs from the task's
]


def with_relation_ids(doc: Document) -> Document:
    """The converter numbers relations R1, R2 ... in result order."""
    relations = [Relation(r.type, r.head, r.tail, f"R{i}", r.score) for i, r in enumerate(doc.relations, 1)]
    return Document(doc.id, doc.text, doc.entities, relations, doc.meta)


@pytest.fixture(scope="module")
def client(label_studio_server: LabelStudioServer):  # noqa: F811
    return ls_sync.connect(label_studio_server.url, label_studio_server.token)


@pytest.mark.integration
def test_server_listens_on_loopback_only(label_studio_server: LabelStudioServer) -> None:  # noqa: F811
    addresses = listening_addresses(label_studio_server.port)
    if not addresses:
        pytest.skip("/proc/net/tcp not readable here")
    assert addresses == {"127.0.0.1"}


@pytest.mark.integration
def test_round_trip_through_label_studio(label_studio_server: LabelStudioServer, client, tmp_path: Path) -> None:  # noqa: F811
    with log_on_failure(label_studio_server):
        _round_trip(label_studio_server, client, tmp_path)


def _round_trip(server: LabelStudioServer, client, tmp_path: Path) -> None:
    # create, then re-run: the second call updates the config of the same project
    project_id, created = ls_sync.create_or_update_project(client, TITLE)
    assert created
    assert ls_sync.create_or_update_project(client, TITLE) == (project_id, False)
    label_config = client.projects.get(project_id).label_config
    assert 'name="label"' in label_config and "HAS_TITLE" in label_config

    # import: JSONL records and a folder of .txt (CRLF kept); importing again adds nothing
    jsonl = tmp_path / "raw.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in (("vn-a", TEXT_A), ("vn-b", TEXT_B))
        ),
        encoding="utf-8",
    )
    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "vn-c.txt").write_bytes(TEXT_C.encode("utf-8"))
    assert ls_sync.import_texts(client, project_id, ls_sync.read_raw_texts(jsonl)).imported == 2
    assert ls_sync.import_texts(client, project_id, ls_sync.read_raw_texts(folder)).imported == 1
    again = ls_sync.import_texts(client, project_id, ls_sync.read_raw_texts(jsonl))
    assert (again.imported, again.skipped_existing) == (0, ["vn-a", "vn-b"])
    changed = ls_sync.import_texts(client, project_id, [{"text": TEXT_A + " Thêm.", "doc_id": "vn-a"}])
    assert (changed.imported, changed.changed_existing) == (0, ["vn-a"])
    tasks = ls_sync.task_index(client, project_id)
    assert sorted(tasks) == ["vn-a", "vn-b", "vn-c"]
    assert [tasks[d]["text"] for d in ("vn-a", "vn-b", "vn-c")] == [TEXT_A, TEXT_B, TEXT_C]

    # human annotations through the API: TITLE_OF drawn backwards (direction left), HAS_TITLE in C
    # drawn from the title with a bi-directional arrow; plus a skipped (cancelled) annotation on A
    a_per, a_tit, a_org = ANNOTATED_A
    client.annotations.create(
        id=tasks["vn-a"]["id"],
        result=[region(e) for e in ANNOTATED_A]
        + [arrow(a_per.id, a_tit.id, "HAS_TITLE", "right"), arrow(a_org.id, a_tit.id, "TITLE_OF", "left")],
        lead_time=12.5,
    )
    client.annotations.create(id=tasks["vn-a"]["id"], result=[], was_cancelled=True)
    c_per, c_tit, c_org = ANNOTATED_C
    client.annotations.create(
        id=tasks["vn-c"]["id"],
        result=[region(e) for e in ANNOTATED_C]
        + [arrow(c_tit.id, c_per.id, "HAS_TITLE", "bi"), arrow(c_tit.id, c_org.id, "TITLE_OF", "right")],
    )

    # predictions: attached by doc_id; unknown ids and changed texts are reported, not attached;
    # a second run skips what is there, --replace swaps it
    docs_path = tmp_path / "predicted.jsonl"
    write_jsonl(PREDICTED, docs_path)
    first = ls_sync.attach_predictions(client, project_id, list(read_jsonl(docs_path)), "tiny-1")
    assert (first.attached, first.missing_tasks, first.text_mismatch) == (2, ["vn-ghost"], ["vn-c"])
    second = ls_sync.attach_predictions(client, project_id, PREDICTED[:2], "tiny-1")
    assert (second.attached, second.skipped_existing) == (0, ["vn-a", "vn-b"])
    third = ls_sync.attach_predictions(client, project_id, PREDICTED[:2], "tiny-1", replace=True)
    assert (third.attached, third.replaced) == (2, 2)

    # export through the library and through the CLI: same content
    out = ls_sync.export_project(client, project_id, tmp_path / "annotations" / "export.json")
    cli_out = tmp_path / "cli-export.json"
    argv = ["export", "--url", server.url, "--token", server.token, "--title", TITLE, "--out", str(cli_out)]
    assert ls_sync.main(argv) == 0
    exported = read_export(out)
    assert _without_volatile(read_export(cli_out)) == _without_volatile(exported)

    by_doc = {t["data"]["doc_id"]: t for t in exported}
    assert sorted(by_doc) == ["vn-a", "vn-b", "vn-c"]
    assert all(isinstance(p, dict) for t in exported for p in t["predictions"]), "predictions must come in full"
    assert [len(by_doc[d]["predictions"]) for d in ("vn-a", "vn-b", "vn-c")] == [1, 1, 0]
    assert [len(by_doc[d]["annotations"]) for d in ("vn-a", "vn-b", "vn-c")] == [2, 0, 1]

    # human side: exactly what was drawn, directions normalised head -> tail
    human = tasks_to_documents(exported, source="annotations")
    assert human.counts["cancelled_annotations"] == 1
    assert [p.code for p in human.problems] == ["no_annotations"]  # vn-b has none
    expected = [
        Document(
            "vn-a",
            TEXT_A,
            ANNOTATED_A,
            [Relation("HAS_TITLE", "a-per", "a-tit", "R1"), Relation("TITLE_OF", "a-tit", "a-org", "R2")],
        ),
        Document(
            "vn-c",
            TEXT_C,
            ANNOTATED_C,
            [Relation("HAS_TITLE", "c-per", "c-tit", "R1"), Relation("TITLE_OF", "c-tit", "c-org", "R2")],
        ),
    ]
    assert sorted(human.documents, key=lambda d: d.id) == expected
    for doc in human.documents:
        assert all(doc.text[e.start : e.end] == e.text for e in doc.entities)
        assert not validate(doc).errors

    # model side: the predicted documents, scores included
    model = tasks_to_documents(exported, source="predictions")
    assert model.counts.get("predictions_given_as_ids", 0) == 0
    assert sorted(model.documents, key=lambda d: d.id) == [with_relation_ids(d) for d in PREDICTED[:2]]
    assert {t["data"]["doc_id"]: t["predictions"][0]["model_version"] for t in exported if t["predictions"]} == {
        "vn-a": "tiny-1",
        "vn-b": "tiny-1",
    }


def _without_volatile(value):
    """Two exports of one project may differ only in the relative 'created_ago' text."""
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k != "created_ago"}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


# --- ls_sync pieces that need no server ----------------------------------------------------


def test_read_raw_texts_from_jsonl_and_folder(tmp_path: Path) -> None:
    jsonl = tmp_path / "raw.jsonl"
    records = [{"id": 7, "text": TEXT_A, "meta": {"source": "x"}}, {"id": "vn-b", "text": TEXT_B}]
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n\n", encoding="utf-8")
    assert ls_sync.read_raw_texts(jsonl) == [
        {"source": "x", "text": TEXT_A, "doc_id": "7"},
        {"text": TEXT_B, "doc_id": "vn-b"},
    ]
    (tmp_path / "txt" / "sub").mkdir(parents=True)
    (tmp_path / "txt" / "sub" / "c.txt").write_bytes(TEXT_C.encode("utf-8"))
    (tmp_path / "txt" / "notes.md").write_text("ignored", encoding="utf-8")
    assert ls_sync.read_raw_texts(tmp_path / "txt") == [{"text": TEXT_C, "doc_id": "sub/c"}]  # CRLF kept


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n', "appears twice"),
        ('{"id": 1, "text": "a"}\nnot json\n', "raw.jsonl:2: not JSON"),
        ('{"text": "a"}\n', 'raw.jsonl:1: expected an object with "id"'),
    ],
)
def test_read_raw_texts_rejects_bad_input_clearly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ls_sync.SyncError, match=message):
        ls_sync.read_raw_texts(path)
    with pytest.raises(ls_sync.SyncError, match="no such file"):
        ls_sync.read_raw_texts(tmp_path / "missing.jsonl")


def test_cli_explains_missing_url_token_and_unreachable_server(monkeypatch, capsys) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    assert ls_sync.main(["export", "--title", TITLE]) == 2
    assert "pass --url or set LABEL_STUDIO_URL" in capsys.readouterr().err
    assert ls_sync.main(["export", "--url", "http://127.0.0.1:9", "--title", TITLE]) == 2
    assert "pass --token or set LABEL_STUDIO_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "abc")
    assert ls_sync.main(["export", "--title", TITLE]) == 2  # env vars are read when the parser is built
    assert "connecting to http://127.0.0.1:9: cannot talk to Label Studio" in capsys.readouterr().err
