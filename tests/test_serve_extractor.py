"""The Extractor: the contract's records, any input form, safe under threads, ONNX Runtime parity."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from serve.contract import InputError, to_document
from serve.extractor import Extractor
from training.metrics import entity_scores, relation_scores

ENTITY_KEYS = ["id", "type", "start", "end", "text", "score"]
RELATION_KEYS = ["id", "type", "head", "tail", "score"]


@pytest.fixture(scope="module")
def extractor(tiny_model_dir) -> Extractor:
    return Extractor.from_pretrained(tiny_model_dir)


def check_record(record: dict, text: str, version: str) -> None:
    assert list(record) == ["id", "text", "model_version", "entities", "relations"]
    assert record["text"] == text and record["model_version"] == version
    ids = [e["id"] for e in record["entities"]]
    assert ids == [f"T{i}" for i in range(1, len(ids) + 1)]
    for ent in record["entities"]:
        assert list(ent) == ENTITY_KEYS
        assert text[ent["start"] : ent["end"]] == ent["text"]
        assert 0.0 <= ent["score"] <= 1.0
    for i, rel in enumerate(record["relations"], 1):
        assert list(rel) == RELATION_KEYS and rel["id"] == f"R{i}"
        assert rel["head"] in ids and rel["tail"] in ids


def test_records_follow_the_contract_and_fit_the_training_documents(extractor, tiny_documents):
    records = extractor.extract(tiny_documents)
    assert [r["id"] for r in records] == [d.id for d in tiny_documents]
    for record, doc in zip(records, tiny_documents):
        check_record(record, doc.text, extractor.model_version)
    predicted = [to_document(r) for r in records]
    assert entity_scores(tiny_documents, predicted)["micro"]["f1"] >= 0.9
    assert relation_scores(tiny_documents, predicted)["micro"]["f1"] >= 0.9


def test_strings_dicts_and_documents_give_the_same_predictions(extractor, tiny_documents):
    texts = [d.text for d in tiny_documents]
    from_strings = extractor.extract(texts)
    from_dicts = extractor.extract([{"id": d.id, "text": d.text} for d in tiny_documents])
    assert [r["id"] for r in from_strings] == [f"doc-{i}" for i in range(len(texts))]
    assert [{**r, "id": d.id} for r, d in zip(from_strings, tiny_documents)] == from_dicts
    assert extractor.extract([{"id": 7, "text": texts[0]}])[0]["id"] == "7"
    assert extractor.extract([]) == []
    for bad in ({"text": "no id"}, {"id": "x"}, {"id": "x", "text": 3}, {"id": None, "text": "t"}):
        with pytest.raises(InputError):
            extractor.extract([bad])


def test_concurrent_threads_give_what_sequential_calls_give(extractor, tiny_documents):
    # Different inputs per call (subsets, shifted offsets), so a mix-up between threads would show.
    jobs = [[d.text if k % 2 else f"Tin {k}. {d.text}" for d in tiny_documents[k % 4 :]] for k in range(12)]
    sequential = [extractor.extract(job) for job in jobs]
    calls_before = extractor.model_calls
    with ThreadPoolExecutor(max_workers=6) as pool:
        concurrent = list(pool.map(extractor.extract, jobs))
    assert concurrent == sequential
    assert extractor.model_calls == calls_before + len(jobs)


def test_onnx_runtime_fp32_matches_torch_and_int8_stays_close(extractor, tiny_model_dir, tiny_documents, tmp_path):
    expected = extractor.extract(tiny_documents)
    fp32 = Extractor.from_pretrained(tiny_model_dir, runtime="onnx", onnx_dir=tmp_path)
    got = fp32.extract(tiny_documents)
    assert [[(e["start"], e["end"], e["type"]) for e in r["entities"]] for r in got] == [
        [(e["start"], e["end"], e["type"]) for e in r["entities"]] for r in expected
    ]
    assert [[(r2["type"], r2["head"], r2["tail"]) for r2 in r["relations"]] for r in got] == [
        [(r2["type"], r2["head"], r2["tail"]) for r2 in r["relations"]] for r in expected
    ]
    for a, b in zip(got, expected):
        assert all(abs(x["score"] - y["score"]) <= 1e-3 for x, y in zip(a["entities"], b["entities"]))
    int8 = Extractor.from_pretrained(tiny_model_dir, runtime="onnx-int8", onnx_dir=tmp_path)
    assert int8.info()["runtime"] == "onnx-int8"
    predicted = [to_document(r) for r in int8.extract(tiny_documents)]
    assert entity_scores(tiny_documents, predicted)["micro"]["f1"] >= 0.8
