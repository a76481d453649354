"""The server against the real app and the tiny model: every route, the limits, auth, back-pressure,
micro-batching, the Label Studio ML-backend protocol and webhook-triggered retraining."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serve.extractor import Extractor
from serve.server import ServerConfig, create_app
from training.labelstudio import documents_to_tasks


@pytest.fixture(scope="module")
def extractor(tiny_model_dir) -> Extractor:
    return Extractor.from_pretrained(tiny_model_dir)


@pytest.fixture
def make_client(extractor, tmp_path):
    clients = []

    def make(serving: Extractor | None = None, **settings) -> TestClient:
        config = ServerConfig(work_dir=tmp_path / "retrain", **settings)
        client = TestClient(create_app(serving or extractor, config))
        clients.append(client.__enter__())  # runs the lifespan: the micro-batcher starts
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_health_model_info_and_openapi(make_client, extractor):
    client = make_client()
    assert client.get("/health").json() == {
        "status": "UP",
        "model_class": "vn-party-ie",
        "model_version": extractor.model_version,
    }
    info = client.get("/v1/model").json()
    assert info["model_version"] == extractor.model_version
    assert info["entity_types"] == ["PERSON", "TITLE", "ORG", "RESOLUTION", "METRIC"]
    assert info["relation_types"] == ["HAS_TITLE", "TITLE_OF", "ISSUED_BY", "METRIC_OF"]
    assert info["base_model"] == "scratch" and info["metrics"]["train"]["entities"]["micro"]["f1"] >= 0.9
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/extract", "/v1/model", "/health", "/setup", "/predict", "/webhook"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_extract_one_document_or_a_list(make_client, extractor, tiny_documents):
    client = make_client()
    doc = tiny_documents[0]
    one = client.post("/v1/extract", json={"id": doc.id, "text": doc.text})
    assert one.status_code == 200
    assert one.json() == extractor.extract([{"id": doc.id, "text": doc.text}])[0]
    many = client.post("/v1/extract", json=[{"text": d.text} for d in tiny_documents] + [{"id": 5, "text": "Ừ."}])
    assert many.status_code == 200
    expected = extractor.extract([d.text for d in tiny_documents] + [{"id": 5, "text": "Ừ."}])
    assert many.json() == expected
    assert [r["id"] for r in many.json()] == ["doc-0", "doc-1", "doc-2", "doc-3", "5"]


@pytest.mark.parametrize(
    "body",
    [{"id": "x"}, {"text": 5}, [], [{"text": "a"}, {"txt": "b"}], "just a string", [{"id": "a", "text": "x"}] * 2],
)
def test_malformed_requests_get_422(make_client, body):
    response = make_client().post("/v1/extract", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_limits_answer_413_with_a_message(make_client):
    client = make_client(max_docs=3, max_chars=50, max_body_bytes=2000)
    too_many = client.post("/v1/extract", json=[{"text": "Tỉnh ủy họp."}] * 4)
    assert too_many.status_code == 413 and "at most 3" in too_many.json()["detail"]
    too_long = client.post("/v1/extract", json={"id": "long", "text": "Tỉnh ủy họp. " * 10})
    assert too_long.status_code == 413 and "'long'" in too_long.json()["detail"]
    too_big = client.post(
        "/v1/extract", content=json.dumps({"text": "x" * 3000}), headers={"content-type": "application/json"}
    )
    assert too_big.status_code == 413
    assert client.post("/v1/extract", json=[{"text": "Tỉnh ủy họp."}] * 3).status_code == 200


def test_token_is_required_when_set(make_client):
    client = make_client(token="s3cret")
    body = {"text": "Tỉnh ủy họp."}
    assert client.get("/health").status_code == 200  # liveness stays open
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        response = client.post("/v1/extract", json=body, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/model").status_code == 401
    assert client.post("/predict", json={"tasks": []}).status_code == 401
    assert client.post("/v1/extract", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    basic = base64.b64encode(b"label-studio:s3cret").decode()  # what a Label Studio connection sends
    assert client.post("/setup", json={}, headers={"Authorization": f"Basic {basic}"}).status_code == 200


def test_concurrent_requests_share_model_calls(make_client, extractor, tiny_documents):
    client = make_client(max_wait_ms=20)
    batcher = client.app.state.batcher
    texts = [f"Tin {i}. {tiny_documents[i % 4].text}" for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        with extractor.model_lock:  # hold the model so the requests pile up behind the first one
            first = pool.submit(client.post, "/v1/extract", json={"id": "0", "text": texts[0]})
            wait_until(lambda: batcher.stats.running == 1)
            rest = [pool.submit(client.post, "/v1/extract", json={"id": str(i), "text": texts[i]}) for i in range(1, 6)]
            wait_until(lambda: batcher.waiting == 5)
        responses = [first.result(), *(f.result() for f in rest)]
    assert [r.status_code for r in responses] == [200] * 6
    assert [r.json() for r in responses] == extractor.extract([{"id": str(i), "text": t} for i, t in enumerate(texts)])
    stats = client.get("/v1/stats").json()
    assert stats["requests"] == 6 and stats["documents"] == 6
    assert stats["model_calls"] == 2  # the first alone, the five that waited together


def test_full_queue_answers_503(make_client, extractor):
    client = make_client(max_queue=1)
    batcher = client.app.state.batcher
    body = {"text": "Tỉnh ủy họp."}
    with ThreadPoolExecutor(max_workers=2) as pool:
        with extractor.model_lock:
            running = pool.submit(client.post, "/v1/extract", json=body)
            wait_until(lambda: batcher.stats.running == 1)
            queued = pool.submit(client.post, "/v1/extract", json=body)
            wait_until(lambda: batcher.waiting == 1)
            refused = client.post("/v1/extract", json=body)
        assert refused.status_code == 503 and "busy" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "1"
        assert running.result().status_code == 200 and queued.result().status_code == 200
    assert client.get("/v1/stats").json()["rejected"] == 1


def test_label_studio_setup_and_predict(make_client, extractor, tiny_documents):
    client = make_client()
    setup = client.post(
        "/setup", json={"project": "3.1700000000", "schema": "<View/>", "hostname": "http://127.0.0.1:1"}
    )
    assert setup.json() == {"model_version": extractor.model_version}
    tasks = [{"id": 10 + i, "data": {"text": d.text, "doc_id": d.id}} for i, d in enumerate(tiny_documents)]
    tasks.append({"id": 99, "data": {"image": 3}})  # no text: an empty prediction keeps the order
    response = client.post("/predict", json={"tasks": tasks, "project": "3.1700000000", "label_config": "<View/>"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(tasks) and results[-1]["result"] == []
    records = extractor.extract([{"id": str(t["id"]), "text": t["data"]["text"]} for t in tasks[:-1]])
    from serve.contract import to_document

    expected = documents_to_tasks(
        [to_document(r) for r in records], as_predictions=True, model_version=extractor.model_version
    )
    assert results[:-1] == [t["predictions"][0] for t in expected]
    first = results[0]["result"]
    regions = {r["id"]: r for r in first if r["type"] == "labels"}
    relations = [r for r in first if r["type"] == "relation"]
    assert regions and relations and all(r["from_id"] in regions and r["to_id"] in regions for r in relations)
    for region in regions.values():
        value = region["value"]
        assert tiny_documents[0].text[value["start"] : value["end"]] == value["text"]


def test_webhook_ignores_other_events_and_guards_export_paths(make_client, tmp_path):
    client = make_client(export_dir=tmp_path / "exports")
    assert (
        client.post("/webhook", json={"action": "PROJECT_UPDATED", "project": {"id": 1}}).json()["status"] == "ignored"
    )
    outside = tmp_path / "elsewhere.json"
    outside.write_text("[]")
    denied = client.post("/webhook", json={"action": "START_TRAINING", "export_path": str(outside)})
    assert denied.status_code == 403
    unknown = client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 1}})
    assert unknown.status_code == 422 and "no export_path" in unknown.json()["detail"]


def write_export(documents, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "export.json"
    path.write_text(json.dumps(documents_to_tasks(documents), ensure_ascii=False), encoding="utf-8")
    return path


def broken_copy(model_dir: Path, out: Path) -> Path:
    """The tiny model with its tagger silenced: it finds nothing, so any retrained model is not worse."""
    import torch

    from training.checkpoint import load_checkpoint, save_checkpoint

    model, tokenizer, settings = load_checkpoint(model_dir)
    with torch.no_grad():
        model.tagger.weight.zero_()
        model.tagger.bias.zero_()
        model.tagger.bias[0] = 10.0  # "O" everywhere
    settings.model_version = "broken-1"
    save_checkpoint(out, model, tokenizer, settings)
    return out


def run_retraining(client: TestClient, export: Path) -> dict:
    response = client.post(
        "/webhook", json={"action": "START_TRAINING", "project": {"id": 1}, "export_path": str(export)}
    )
    assert response.status_code == 200 and response.json()["status"] == "scheduled"
    assert client.app.state.retrainer.wait(timeout=300)
    return client.get("/v1/training").json()["jobs"][-1]


RETRAIN = ["training.epochs=2", "training.patience=2"]


def test_webhook_retrains_and_keeps_the_better_old_model(make_client, extractor, tiny_documents, tmp_path):
    client = make_client(export_dir=tmp_path / "exports", retrain_overrides=RETRAIN)
    job = run_retraining(client, write_export(tiny_documents, tmp_path / "exports"))
    assert job["state"] == "done", job["error"]
    assert job["old_f1"] >= 0.9 and job["new_f1"] < job["old_f1"] and not job["swapped"]
    assert client.get("/health").json()["model_version"] == extractor.model_version
    assert (Path(job["output_dir"]) / "retrain-config.yaml").is_file()


def test_webhook_retrains_and_swaps_in_a_model_that_is_not_worse(make_client, tiny_model_dir, tiny_documents, tmp_path):
    broken = Extractor.from_pretrained(broken_copy(tiny_model_dir, tmp_path / "broken"))
    client = make_client(broken, export_dir=tmp_path / "exports", retrain_overrides=RETRAIN)
    assert client.post("/v1/extract", json={"text": tiny_documents[0].text}).json()["entities"] == []
    job = run_retraining(client, write_export(tiny_documents, tmp_path / "exports"))
    assert job["state"] == "done", job["error"]
    assert job["old_f1"] == 0.0 and job["new_f1"] >= job["old_f1"] and job["swapped"]
    assert job["new_version"].startswith("retrain-001-") and job["old_version"] == "broken-1"
    assert client.get("/health").json()["model_version"] == job["new_version"]
    assert client.get("/v1/model").json()["model_version"] == job["new_version"]
    after = client.post("/v1/extract", json={"text": tiny_documents[0].text}).json()
    assert after["model_version"] == job["new_version"]
