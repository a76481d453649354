"""Training runs resume from their last checkpoint; evaluation writes every report; features are cached."""

from __future__ import annotations

import json

from conftest import fit_on_folder

from training.config import load_config
from training.evaluate import evaluate
from training.train import train


def _config(tiny_corpus_dir, out, epochs):
    return load_config(
        None,
        [
            "model.base_model=scratch",
            "model.build_vocab_size=300",
            "model.hidden_size=32",
            "model.num_layers=1",
            "model.num_heads=2",
            "model.intermediate_size=64",
            *fit_on_folder(tiny_corpus_dir, out),
            f"training.epochs={epochs}",
            "training.batch_size=4",
        ],
    )


def test_training_resumes_where_it_stopped(tiny_corpus_dir, tmp_path):
    first = train(_config(tiny_corpus_dir, tmp_path, 2))
    assert [h["epoch"] for h in first["history"]] == [1, 2]
    cache_files = sorted((tmp_path / "cache").glob("*.arrow"))
    assert cache_files, "features are cached on disk"
    stamps = [p.stat().st_mtime_ns for p in cache_files]
    second = train(_config(tiny_corpus_dir, tmp_path, 3))
    assert [h["epoch"] for h in second["history"]] == [1, 2, 3]  # epochs 1-2 come from the saved state
    assert [p.stat().st_mtime_ns for p in cache_files] == stamps  # the re-run read the cache


def test_evaluate_writes_metrics_errors_and_predictions(tiny_model_dir, tiny_corpus_dir, tmp_path):
    report = evaluate(str(tiny_model_dir), str(tiny_corpus_dir), str(tmp_path / "eval"))
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["entities"]["micro"]["f1"] == report["entities"]["micro"]["f1"]
    assert set(metrics) >= {"entities", "relations", "relations_gold_entities", "seqeval", "confusion"}
    assert metrics["seqeval"]["PERSON"]["support"] == 4
    from training.data import load_documents
    from training.documents import read_jsonl
    from training.metrics import entity_tuples, relation_tuples

    gold = load_documents(tiny_corpus_dir).documents
    predicted = list(read_jsonl(tmp_path / "eval" / "predictions.jsonl"))
    expected = len(entity_tuples(gold) ^ entity_tuples(predicted)) + len(
        relation_tuples(gold) ^ relation_tuples(predicted)
    )
    errors = [line for line in (tmp_path / "eval" / "errors.tsv").read_text().splitlines() if line]
    assert len(errors) == expected
    assert all(line.split("\t")[0] in ("MISSED", "SPURIOUS") for line in errors)
