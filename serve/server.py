"""``python -m serve.server --model DIR --port P [--token T]``: REST API and Label Studio ML backend.

REST (OpenAPI docs at /docs):
  POST /v1/extract    one document {"id"?, "text"} or a list → contract records (serve.contract)
  GET  /v1/model      version, labels, base model, the checkpoint's metrics
  GET  /v1/stats      requests, documents, model calls (micro-batching at work), rejections
  GET  /v1/training   retraining jobs
  GET  /health        liveness, also Label Studio's health check
Label Studio ML-backend protocol (plain FastAPI; LS calls these itself once connected):
  POST /setup         → {"model_version"}
  POST /predict       {"tasks": [...]} → {"results": [one prediction per task, in order]}
  POST /webhook       ANNOTATION_CREATED / START_TRAINING → retrain in the background (serve.retrain)

The model is loaded, and warmed up, before the port opens. Every request goes through one
micro-batcher (serve.batcher), REST and Label Studio alike. With ``--token`` every route but
/health and the docs needs ``Authorization: Bearer T`` (HTTP Basic with password T is accepted too:
it is the only authentication a Label Studio ML-backend connection can send).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import logging
import os
import secrets
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from serve.batcher import MicroBatcher, QueueFull
from serve.contract import DocumentRecord, to_document
from serve.extractor import Extractor
from serve.retrain import RETRAIN_ACTIONS, LabelStudioLink, ModelHolder, Retrainer
from training.documents import Document
from training.labelstudio import TO_NAME, documents_to_tasks

log = logging.getLogger("serve.server")


@dataclass
class ServerConfig:
    max_docs: int = 64  # documents per request
    max_chars: int = 100_000  # characters per document
    max_body_bytes: int = 16 * 2**20
    max_queue: int = 256  # requests waiting for the model; beyond: 503
    max_wait_ms: float = 5.0  # how long the batcher collects after the first request
    batch_docs: int = 64  # documents per model call
    batch_size: int = 16  # sentence windows per forward pass
    token: str | None = None
    work_dir: Path = Path("runs/retrain")
    retrain_overrides: list[str] = field(default_factory=list)
    export_dir: Path | None = None  # webhook may name an export file under this folder
    ls_url: str | None = None
    ls_token: str | None = None


# --- request and response bodies (also the OpenAPI schema) ------------------------------------


class DocumentIn(BaseModel):
    id: str | int | None = Field(None, description="kept as given (as a string); default doc-<position>")
    text: str


class EntityOut(BaseModel):
    id: str
    type: str
    start: int = Field(description="Python str offset (code points), inclusive")
    end: int = Field(description="exclusive; text[start:end] == entity text")
    text: str
    score: float


class RelationOut(BaseModel):
    id: str
    type: str
    head: str
    tail: str
    score: float


class DocumentOut(BaseModel):
    id: str
    text: str
    model_version: str
    entities: list[EntityOut]
    relations: list[RelationOut]


class LSPredictRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    tasks: list[dict[str, Any]]


class LSPrediction(BaseModel):
    model_version: str
    score: float | None
    result: list[dict[str, Any]]


class LSPredictResponse(BaseModel):
    results: list[LSPrediction]
    model_version: str


# --- helpers ------------------------------------------------------------------------------------


def check_limits(docs: list[Document], config: ServerConfig, count: bool = True) -> None:
    """413 with a message naming the limit; ``count=False`` checks document lengths only."""
    if count and len(docs) > config.max_docs:
        raise HTTPException(413, f"{len(docs)} documents in one request; at most {config.max_docs}")
    for i, doc in enumerate(docs):
        if len(doc.text) > config.max_chars:
            raise HTTPException(
                413, f"document {i} ({doc.id!r}) has {len(doc.text)} characters; at most {config.max_chars}"
            )


def task_text(task: dict) -> str | None:
    """The text of a Label Studio task: data["text"], else its only string value."""
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    if isinstance(data.get(TO_NAME), str):
        return data[TO_NAME]
    strings = [v for v in data.values() if isinstance(v, str)]
    return strings[0] if len(strings) == 1 else None


def ls_prediction(record: DocumentRecord) -> dict:
    """A record as one Label Studio prediction, regions in training.labelstudio's format (the
    same converter that reads annotations back), so relation from_id/to_id name region ids."""
    task = documents_to_tasks([to_document(record)], as_predictions=True, model_version=record["model_version"])
    return task[0]["predictions"][0]


def _password_of_basic(credentials: str) -> str | None:
    try:
        return base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return None


# --- the app ------------------------------------------------------------------------------------

# Module level: route signatures are resolved from module globals (annotations are strings here).
# Only parses the header and documents the scheme in OpenAPI; ``authorized`` decides.
BEARER = HTTPBearer(auto_error=False, description="the server's --token")


def create_app(extractor: Extractor, config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()
    holder = ModelHolder(extractor)
    batcher = MicroBatcher(
        lambda docs: holder.current.extract(docs, batch_size=config.batch_size),
        max_wait_s=config.max_wait_ms / 1000,
        max_docs=config.batch_docs,
        max_queue=config.max_queue,
    )
    link = LabelStudioLink(config.ls_url, config.ls_token)
    retrainer = Retrainer(holder, config.work_dir, config.retrain_overrides, pull_export=link.pull)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title="vn-party-ie",
        summary="Vietnamese Party-news entities (PERSON, TITLE, ORG, RESOLUTION, METRIC) and relations",
        version="1",
        lifespan=lifespan,
    )
    app.state.holder, app.state.batcher, app.state.retrainer, app.state.config = holder, batcher, retrainer, config

    async def authorized(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if config.token is None:
            return
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        given = {"bearer": credentials, "basic": _password_of_basic(credentials)}.get(scheme.lower())
        if given is None or not secrets.compare_digest(given.encode(), config.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    async def body_size(request: Request) -> None:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > config.max_body_bytes:
            raise HTTPException(413, f"request body of {length} bytes; at most {config.max_body_bytes}")

    async def run_model(docs: list[Document]) -> list[DocumentRecord]:
        try:
            return await batcher.submit(docs)
        except QueueFull as exc:
            raise HTTPException(503, f"server busy: {exc}; retry later", headers={"Retry-After": "1"}) from None

    guarded = [Depends(authorized)]

    @app.get("/health", tags=["service"])
    async def health() -> dict:
        return {"status": "UP", "model_class": "vn-party-ie", "model_version": holder.current.model_version}

    @app.post(
        "/v1/extract",
        tags=["extraction"],
        response_model=DocumentOut | list[DocumentOut],
        dependencies=[*guarded, Depends(body_size)],
        responses={401: {}, 413: {}, 503: {}},
    )
    async def extract(body: DocumentIn | list[DocumentIn]):
        """One document → one record; a list → a list of records in the same order."""
        items = body if isinstance(body, list) else [body]
        if not items:
            raise HTTPException(422, "empty list: send at least one document")
        docs = [Document(str(d.id) if d.id is not None else f"doc-{i}", d.text) for i, d in enumerate(items)]
        if len({d.id for d in docs}) < len(docs):
            raise HTTPException(422, "document ids repeat within the request")
        check_limits(docs, config)
        records = await run_model(docs)
        return records if isinstance(body, list) else records[0]

    @app.get("/v1/model", tags=["service"], dependencies=guarded)
    async def model_info() -> dict:
        return holder.current.info()

    @app.get("/v1/stats", tags=["service"], dependencies=guarded)
    async def stats() -> dict:
        return {**vars(batcher.stats), "waiting": batcher.waiting, "max_queue": batcher.max_queue}

    @app.get("/v1/training", tags=["label-studio"], dependencies=guarded)
    async def training_status() -> dict:
        return retrainer.status()

    # --- Label Studio ML backend --------------------------------------------------------------

    @app.post("/setup", tags=["label-studio"], dependencies=guarded)
    async def setup(body: dict[str, Any]) -> dict:
        project = str(body.get("project", "")).split(".")[0]
        if project.isdigit():
            link.remember(int(project), body.get("hostname"), body.get("access_token"))
        return {"model_version": holder.current.model_version}

    @app.post(
        "/predict", tags=["label-studio"], response_model=LSPredictResponse, dependencies=[*guarded, Depends(body_size)]
    )
    async def predict(body: LSPredictRequest) -> dict:
        """One prediction per task, in order; a task without text gets an empty one."""
        docs = [
            Document(str(task.get("id", i)), text)
            for i, task in enumerate(body.tasks)
            if (text := task_text(task)) is not None
        ]
        check_limits(docs, config, count=False)
        # Label Studio may send a whole project at once: pass it in request-sized groups.
        groups = [docs[i : i + config.max_docs] for i in range(0, len(docs), config.max_docs)]
        records = [r for part in await asyncio.gather(*(run_model(g) for g in groups)) for r in part]
        by_task = dict(zip((d.id for d in docs), records))
        version = holder.current.model_version
        results = []
        for i, task in enumerate(body.tasks):
            record = by_task.get(str(task.get("id", i)))
            results.append(ls_prediction(record) if record else {"model_version": version, "score": None, "result": []})
        return {"results": results, "model_version": version}

    @app.post("/webhook", tags=["label-studio"], dependencies=guarded)
    async def webhook(body: dict[str, Any]) -> dict:
        """Label Studio sends every project event here; the retraining ones start a run."""
        action = body.get("action")
        if action not in RETRAIN_ACTIONS:
            return {"status": "ignored", "action": action}
        export = body.get("export_path")
        if export is not None:
            export = Path(export).resolve()
            if config.export_dir is None or not export.is_relative_to(config.export_dir.resolve()):
                raise HTTPException(403, "export_path must lie under the server's --export-dir")
            if not export.is_file():
                raise HTTPException(422, f"export_path {str(export)!r} is not a file")
        project = body.get("project", {}).get("id") if isinstance(body.get("project"), dict) else None
        if export is None and not (project is not None and (link.url or project in link.by_project)):
            raise HTTPException(422, "no export_path, and no Label Studio connection known for this project")
        job = retrainer.request(project, export)
        return {"status": "scheduled", "job": job.number, "action": action}

    return app


# --- command line ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m serve.server", description=__doc__.split("\n\n")[0])
    defaults = ServerConfig()
    add = parser.add_argument
    add("--model", required=True, help="checkpoint directory")
    add("--host", default="127.0.0.1", help="interface to listen on (default loopback only)")
    add("--port", type=int, default=8080)
    add("--token", default=os.environ.get("SERVE_TOKEN"), help="require this bearer token (env SERVE_TOKEN)")
    add("--runtime", choices=("torch", "onnx", "onnx-int8"), default="torch")
    add("--max-docs", type=int, default=defaults.max_docs, help="documents per request (413 beyond)")
    add("--max-chars", type=int, default=defaults.max_chars, help="characters per document (413 beyond)")
    add("--max-queue", type=int, default=defaults.max_queue, help="waiting requests (503 beyond)")
    add("--max-wait-ms", type=float, default=defaults.max_wait_ms, help="micro-batch collection window")
    add("--batch-docs", type=int, default=defaults.batch_docs, help="documents per model call")
    add("--batch-size", type=int, default=defaults.batch_size, help="sentence windows per forward pass")
    add("--work-dir", default=str(defaults.work_dir), help="where retraining writes exports and models")
    add("--retrain-override", action="append", default=[], help="config override for retraining, key=value")
    add("--export-dir", help="webhooks may name an export file under this folder")
    add("--ls-url", default=os.environ.get("LABEL_STUDIO_URL"), help="Label Studio to pull exports from")
    add("--ls-token", default=os.environ.get("LABEL_STUDIO_API_KEY"))
    add("--log-level", default="info")
    return parser


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = ServerConfig(
        max_docs=args.max_docs,
        max_chars=args.max_chars,
        max_queue=args.max_queue,
        max_wait_ms=args.max_wait_ms,
        batch_docs=args.batch_docs,
        batch_size=args.batch_size,
        token=args.token,
        work_dir=Path(args.work_dir),
        retrain_overrides=args.retrain_override,
        export_dir=Path(args.export_dir) if args.export_dir else None,
        ls_url=args.ls_url,
        ls_token=args.ls_token,
    )
    extractor = Extractor.from_pretrained(args.model, runtime=args.runtime)
    extractor.extract(["Đồng chí Nguyễn Văn A, Bí thư Tỉnh ủy."])  # warm-up: first call pays lazy inits
    log.info("model %s loaded from %s (%s)", extractor.model_version, args.model, args.runtime)
    uvicorn.run(create_app(extractor, config), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
