"""Our server as the ML backend of a real Label Studio 1.23 server, all on 127.0.0.1.

Label Studio is told about the backend through its API, checks /health and /setup itself, and on
"retrieve predictions" posts the project's tasks to our /predict. The predictions it stores must be
the Extractor's entities and relations at the same offsets, and must read back through the
project's export and ``training.labelstudio`` as the same documents. Then annotations and a
"start training" from Label Studio reach our /webhook, which pulls the export and retrains.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from labelstudio_server import (  # noqa: F401
    HOST,
    LabelStudioServer,
    free_port,
    label_studio_server,
    listening_addresses,
    log_on_failure,
)

from serve.contract import to_document
from serve.extractor import Extractor
from serve.server import ServerConfig, create_app, ls_prediction
from training import ls_sync
from training.labelstudio import read_export, tasks_to_documents

pytestmark = pytest.mark.integration

TITLE = "ml backend integration"


@pytest.fixture(scope="module")
def extractor(tiny_model_dir) -> Extractor:
    return Extractor.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def backend(extractor, label_studio_server, tmp_path_factory) -> Iterator[tuple[str, object]]:  # noqa: F811
    """Our app under a real uvicorn in a thread: Label Studio needs a socket to call. The export
    for retraining is pulled from the test server's 127.0.0.1 URL (what /setup announces is
    http://localhost:PORT, and these tests keep to 127.0.0.1)."""
    config = ServerConfig(
        work_dir=tmp_path_factory.mktemp("retrain"),
        retrain_overrides=["training.epochs=2", "training.patience=2"],
        ls_url=label_studio_server.url,
        ls_token=label_studio_server.token,
    )
    app = create_app(extractor, config)
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "our server did not start"
        time.sleep(0.05)
    try:
        yield f"http://{HOST}:{server.config.port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_label_studio_stores_our_predictions_at_the_right_offsets(
    label_studio_server: LabelStudioServer,  # noqa: F811
    backend,
    extractor,
    tiny_documents,
    tmp_path,
) -> None:
    url, app = backend
    port = int(url.rsplit(":", 1)[1])
    assert listening_addresses(port) <= {HOST}  # loopback only (empty where /proc is missing)
    with log_on_failure(label_studio_server):
        client = ls_sync.connect(label_studio_server.url, label_studio_server.token)
        project_id, _ = ls_sync.create_or_update_project(client, TITLE)
        records = [{"doc_id": d.id, "text": f"Tin {i}. {d.text}"} for i, d in enumerate(tiny_documents)]
        assert ls_sync.import_texts(client, project_id, records).imported == len(records)

        backend_row = client.ml.create(project=project_id, url=url, title="vn-party-ie", is_interactive=False)
        assert client.ml.get(backend_row.id).state == "CO"  # Label Studio reached /health and /setup
        client.actions.create(
            id="retrieve_tasks_predictions", project=project_id, selected_items={"all": True, "excluded": []}
        )

        assert app.state.batcher.stats.requests >= 1  # Label Studio did call our /predict
        tasks = ls_sync.task_index(client, project_id)
        predictions = {p.task: p for p in client.predictions.list(project=project_id)}
        assert set(predictions) == {t["id"] for t in tasks.values()}
        texts = {r["doc_id"]: r["text"] for r in records}
        expected = {
            doc_id: extractor.extract([{"id": str(tasks[doc_id]["id"]), "text": text}])[0]
            for doc_id, text in texts.items()
        }
        for doc_id, record in expected.items():
            stored = predictions[tasks[doc_id]["id"]]
            assert stored.model_version == extractor.model_version
            assert stored.result == ls_prediction(record)["result"]
            regions = [r for r in stored.result if r["type"] == "labels"]
            relations = [r for r in stored.result if r["type"] == "relation"]
            assert regions and relations
            for region in regions:
                value = region["value"]
                assert texts[doc_id][value["start"] : value["end"]] == value["text"]

        # The full circle: the project's export, read by the same converter as annotations.
        export = ls_sync.export_project(client, project_id, tmp_path / "export.json")
        documents = {d.id: d for d in tasks_to_documents(read_export(export), source="predictions").documents}
        for doc_id, record in expected.items():
            ours = to_document(record)
            theirs = documents[doc_id]
            assert [(e.id, e.type, e.start, e.end, e.text) for e in theirs.entities] == [
                (e.id, e.type, e.start, e.end, e.text) for e in ours.entities
            ]
            assert [(r.type, r.head, r.tail) for r in theirs.relations] == [
                (r.type, r.head, r.tail) for r in ours.relations
            ]


def test_annotations_and_start_training_reach_the_webhook_and_retrain(
    label_studio_server: LabelStudioServer,  # noqa: F811
    backend,
    extractor,
) -> None:
    """Runs after the test above: same project, tasks and predictions."""
    _, app = backend
    retrainer = app.state.retrainer
    with log_on_failure(label_studio_server):
        client = ls_sync.connect(label_studio_server.url, label_studio_server.token)
        project_id = ls_sync.find_project(client, TITLE)
        assert project_id is not None, "run with the test above"
        predictions = {p.task: p for p in client.predictions.list(project=project_id)}
        for task_id, prediction in predictions.items():  # accept each prediction as the annotation
            client.annotations.create(id=task_id, result=prediction.result, was_cancelled=False)
        backend_id = client.ml.list(project=project_id)[0].id
        client.ml.train(backend_id)  # Label Studio posts START_TRAINING to our /webhook
        assert retrainer.wait(timeout=600)

    jobs = retrainer.status()["jobs"]
    assert jobs, "no webhook reached the retrainer"
    finished = [j for j in jobs if j["state"] != "superseded"]
    assert all(j["state"] == "done" for j in finished), [j["error"] for j in finished]
    last = finished[-1]
    export = read_export(last["export"])  # pulled from Label Studio by training.ls_sync
    assert sum(1 for task in export if task.get("annotations")) == len(predictions)
    assert last["eval_documents"] == len(predictions) and last["old_f1"] >= 0.9
    # Two epochs cannot match the served model: it is kept, and Label Studio keeps seeing its version.
    assert not last["swapped"]
    assert client.ml.get(backend_id).state in ("CO", "TR")
    assert app.state.holder.current.model_version == extractor.model_version
