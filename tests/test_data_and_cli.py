"""Loading any source, strict mode, and the validate command's exit status and messages."""

from __future__ import annotations

import json

import pytest

from training.cli import main
from training.data import DataError, load_documents
from training.labelstudio import documents_to_tasks


def _export(tmp_path, docs):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(documents_to_tasks(docs), ensure_ascii=False), encoding="utf-8")
    return path


def test_validate_passes_a_clean_export(tmp_path, tiny_documents, capsys):
    assert main(["validate", str(_export(tmp_path, tiny_documents))]) == 0
    out = capsys.readouterr().out
    assert "4 document(s) kept; 0 error(s)" in out


def test_validate_fails_on_shifted_offsets_and_names_task_and_region(tmp_path, tiny_documents, capsys):
    tasks = documents_to_tasks(tiny_documents)
    region = tasks[1]["annotations"][0]["result"][0]
    region["value"]["start"] += 2
    region["value"]["end"] += 2
    path = tmp_path / "shifted.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"task tiny-2, region {region['id']}: [text_mismatch]" in out
    assert "entities: 1" in out  # excluded and counted, not silently dropped


def test_strict_mode_raises_on_warnings(tmp_path, tiny_documents):
    doc = tiny_documents[0]
    from training.documents import Document, Relation

    crossing = Document(doc.id, doc.text, doc.entities, [*doc.relations, Relation("METRIC_OF", "m1", "o1")])
    path = _export(tmp_path, [crossing])
    assert load_documents(path).report.problems[0].code == "cross_sentence"
    with pytest.raises(DataError, match="cross_sentence"):
        load_documents(path, strict=True)


def test_every_source_kind_loads_the_same_documents(tmp_path, tiny_documents, tiny_corpus_dir):
    from training.documents import write_jsonl

    write_jsonl(tiny_documents, tmp_path / "docs.jsonl")
    sources = [_export(tmp_path, tiny_documents), tmp_path / "docs.jsonl", tiny_corpus_dir]
    loaded = [sorted(d.to_dict()["entities"], key=str) for p in sources for d in load_documents(p).documents[:1]]
    assert loaded[0] == loaded[1] == loaded[2]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_documents(tmp_path / "nope.json")
