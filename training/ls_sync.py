"""Keeps a Label Studio project in step with the repository.

Four operations, each a small function usable from tests and a CLI subcommand:

* ``create``: create the project by title, or update its labeling config, from
  ``annotations/labeling-config.xml`` so the interface annotators see is the one in git.
* ``import``: raw texts become tasks; the document id is stored in ``data.doc_id`` because Label
  Studio's own task ids change between instances and exports must map back to our documents.
* ``predictions``: model output (documents JSONL) is attached to the existing tasks with the same
  ``doc_id``, in the region format of :func:`training.labelstudio.documents_to_tasks`, so what the
  model proposes round-trips through the same converter as what annotators write.
* ``export``: a snapshot export of every task with annotations and predictions in full (the quick
  ``/export`` endpoint gives predictions as bare ids), written unchanged under ``annotations/``.

``python -m training.ls_sync {create,import,predictions,export} --url URL --token TOKEN ...``;
``--url``/``--token`` default to ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from label_studio_sdk import LabelStudio, PredictionRequest
from label_studio_sdk.core.api_error import ApiError

from training.documents import Document, read_jsonl
from training.labelstudio import documents_to_tasks

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "annotations" / "labeling-config.xml"
DEFAULT_EXPORT_DIR = REPO_ROOT / "annotations" / "exports"
EXPORT_TIMEOUT_S = 300.0


class SyncError(RuntimeError):
    """A failure the user can act on; the CLI prints the message without a traceback."""


@dataclass
class ImportReport:
    imported: int = 0
    task_ids: list[int] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    changed_existing: list[str] = field(default_factory=list)  # skipped, and the project's text differs


@dataclass
class PredictionReport:
    attached: int = 0
    missing_tasks: list[str] = field(default_factory=list)
    text_mismatch: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    replaced: int = 0


# --- connection -------------------------------------------------------------------------------


def connect(url: str | None, token: str | None, check: bool = True) -> LabelStudio:
    """A client for ``url``; with ``check`` one cheap call proves the URL and token work now,
    so a typo fails here with a clear message instead of deep inside an import."""
    url = (url or "").strip()
    token = (token or "").strip()
    if not url:
        raise SyncError("no Label Studio URL: pass --url or set LABEL_STUDIO_URL (e.g. http://localhost:8080)")
    if not re.match(r"^https?://", url):
        raise SyncError(f"Label Studio URL must start with http:// or https://, got {url!r}")
    if not token:
        raise SyncError(
            "no API token: pass --token or set LABEL_STUDIO_API_KEY "
            "(Label Studio > Account & Settings > Personal Access Token, or a legacy token)"
        )
    client = LabelStudio(base_url=url.rstrip("/"), api_key=token)
    if check:
        with api_errors(f"connecting to {url}"):
            client.users.whoami()
    return client


@contextmanager
def api_errors(doing: str) -> Iterator[None]:
    """Turns SDK/HTTP exceptions into :class:`SyncError` naming what was being done, because a bare
    ``ApiError: status_code 400`` says nothing about which project or task was at fault."""
    try:
        yield
    except ApiError as exc:
        hint = {
            401: "the token was rejected; check --token / LABEL_STUDIO_API_KEY (a legacy token needs "
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true on the server)",
            403: "the token's user may not do this in this organization",
            404: "not found; check the URL and the project id/title",
        }.get(exc.status_code or 0)
        body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body, ensure_ascii=False, default=str)
        raise SyncError(
            f"{doing}: Label Studio answered HTTP {exc.status_code}: {body[:2000]}" + (f" ({hint})" if hint else "")
        ) from exc
    except httpx.HTTPError as exc:
        raise SyncError(f"{doing}: cannot talk to Label Studio: {type(exc).__name__}: {exc}") from exc


# --- project ----------------------------------------------------------------------------------


def read_label_config(path: str | Path = DEFAULT_CONFIG) -> str:
    path = Path(path)
    if not path.is_file():
        raise SyncError(f"{path}: labeling config not found")
    return path.read_text(encoding="utf-8")


def find_project(client: LabelStudio, title: str) -> int | None:
    """The id of the project with exactly this title; the server's title filter is a substring
    search, so it is narrowed here, and two projects with one title are refused rather than guessed."""
    with api_errors(f"listing projects titled {title!r}"):
        matches = [p.id for p in client.projects.list(title=title) if p.title == title]
    if len(matches) > 1:
        raise SyncError(f"{len(matches)} projects are titled {title!r} (ids {matches}); pass --project-id")
    return matches[0] if matches else None


def create_or_update_project(
    client: LabelStudio, title: str, config_path: str | Path = DEFAULT_CONFIG, description: str | None = None
) -> tuple[int, bool]:
    """(project id, created?). Re-running updates the config in place, so the project keeps its
    tasks and annotations; Label Studio itself refuses a config that drops labels still in use."""
    config = read_label_config(config_path)
    project_id = find_project(client, title)
    if project_id is None:
        with api_errors(f"creating project {title!r}"):
            project = client.projects.create(title=title, label_config=config, description=description or "")
        return int(project.id), True
    with api_errors(f"updating the labeling config of project {project_id} ({title!r})"):
        client.projects.update(project_id, label_config=config)
    return project_id, False


def resolve_project(client: LabelStudio, title: str | None, project_id: int | None) -> int:
    """Project id from --project-id or --title; the project must exist (``create`` makes it)."""
    if project_id is not None:
        with api_errors(f"looking up project {project_id}"):
            client.projects.get(project_id)
        return project_id
    if not title:
        raise SyncError("name the project with --title or --project-id")
    found = find_project(client, title)
    if found is None:
        raise SyncError(f"no project titled {title!r}; run `python -m training.ls_sync create --title {title!r}` first")
    return found


# --- raw texts --------------------------------------------------------------------------------


def read_raw_texts(path: str | Path) -> list[dict[str, Any]]:
    """Task data ``{"text", "doc_id", ...}`` from a JSONL file of ``{"id", "text"}`` records (a
    document's ``meta`` is carried along) or from a folder of ``.txt`` files (doc id = relative path
    without ``.txt``). Texts are kept exactly as stored, line endings included, since every offset
    the annotators produce indexes into this very string."""
    path = Path(path)
    if path.is_dir():
        records = [
            {"text": _read_exact(p), "doc_id": p.relative_to(path).with_suffix("").as_posix()}
            for p in sorted(path.rglob("*.txt"))
        ]
        if not records:
            raise SyncError(f"{path}: folder holds no .txt files")
    elif path.is_file():
        records = list(_read_jsonl_texts(path))
    else:
        raise SyncError(f"{path}: no such file or folder")
    _check_unique(records, str(path))
    return records


def _read_exact(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def _read_jsonl_texts(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SyncError(f"{where}: not JSON: {exc}") from exc
            if not isinstance(record, dict) or "id" not in record or not isinstance(record.get("text"), str):
                raise SyncError(f'{where}: expected an object with "id" and a string "text"')
            meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
            yield {**meta, "text": record["text"], "doc_id": str(record["id"])}


def _check_unique(records: Sequence[dict[str, Any]], where: str) -> None:
    seen: set[str] = set()
    for record in records:
        if record["doc_id"] in seen:
            raise SyncError(f"{where}: document id {record['doc_id']!r} appears twice")
        seen.add(record["doc_id"])


def task_index(client: LabelStudio, project_id: int) -> dict[str, dict[str, Any]]:
    """``doc_id`` → {"id": task id, "text": task text} for every task of the project."""
    index: dict[str, dict[str, Any]] = {}
    with api_errors(f"listing tasks of project {project_id}"):
        for task in client.tasks.list(project=project_id, fields="task_only", include="id,data"):
            data = task.data or {}
            if "doc_id" in data:
                index.setdefault(str(data["doc_id"]), {"id": int(task.id), "text": data.get("text")})
    return index


def import_texts(client: LabelStudio, project_id: int, records: Sequence[dict[str, Any]]) -> ImportReport:
    """Creates one task per record; doc ids already in the project are skipped so that re-running
    an import never makes duplicate tasks (the converter refuses duplicate doc ids). A skipped
    record whose text differs from the task's is listed apart: annotations made on the old text
    would not fit a new one, so replacing it is a decision for a person, not for a sync."""
    report = ImportReport()
    existing = task_index(client, project_id)
    fresh = []
    for record in records:
        if record["doc_id"] in existing:
            report.skipped_existing.append(record["doc_id"])
            if existing[record["doc_id"]]["text"] != record["text"]:
                report.changed_existing.append(record["doc_id"])
        else:
            fresh.append({"data": record})
    if fresh:
        with api_errors(f"importing {len(fresh)} task(s) into project {project_id}"):
            response = client.projects.import_tasks(project_id, request=fresh, return_task_ids=True)
        report.imported = int(response.task_count or 0)
        report.task_ids = list(response.task_ids or [])
    return report


# --- predictions ------------------------------------------------------------------------------


def attach_predictions(
    client: LabelStudio,
    project_id: int,
    documents: Sequence[Document],
    model_version: str,
    replace: bool = False,
) -> PredictionReport:
    """Adds each document's entities and relations as a prediction on the task with its doc id.

    A document whose text differs from the task's is refused: its offsets would point elsewhere.
    A task that already holds a prediction of this ``model_version`` is skipped, or with
    ``replace`` its old one is deleted first, so re-running never stacks up copies.
    """
    report = PredictionReport()
    tasks = task_index(client, project_id)
    existing = _predictions_by_task(client, project_id, model_version)
    requests: list[PredictionRequest] = []
    for doc, task in zip(
        documents, documents_to_tasks(list(documents), as_predictions=True, model_version=model_version)
    ):
        target = tasks.get(doc.id)
        if target is None:
            report.missing_tasks.append(doc.id)
            continue
        if target["text"] != doc.text:
            report.text_mismatch.append(doc.id)
            continue
        old = existing.get(target["id"], [])
        if old and not replace:
            report.skipped_existing.append(doc.id)
            continue
        for prediction_id in old:
            with api_errors(f"deleting prediction {prediction_id} of task {target['id']}"):
                client.predictions.delete(prediction_id)
            report.replaced += 1
        prediction = task["predictions"][0]
        requests.append(
            PredictionRequest(
                task=target["id"],
                result=prediction["result"],
                model_version=model_version,
                score=prediction["score"],
            )
        )
    if requests:
        with api_errors(f"importing {len(requests)} prediction(s) into project {project_id}"):
            client.projects.import_predictions(project_id, request=requests)
        report.attached = len(requests)
    return report


def _predictions_by_task(client: LabelStudio, project_id: int, model_version: str) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    with api_errors(f"listing predictions of project {project_id}"):
        for prediction in client.predictions.list(project=project_id):
            if prediction.model_version == model_version and prediction.task is not None:
                found.setdefault(int(prediction.task), []).append(int(prediction.id))
    return found


# --- export -----------------------------------------------------------------------------------


def export_project(
    client: LabelStudio, project_id: int, out_path: str | Path, timeout_s: float = EXPORT_TIMEOUT_S
) -> Path:
    """Writes the JSON export of all tasks, every annotation (cancelled and ground truth
    included: the converter chooses) and predictions as full objects, byte for byte as the server
    made it. Uses a snapshot export because only it can expand predictions; the snapshot is
    deleted from the server afterwards so repeated pulls do not pile up files there."""
    out_path = Path(out_path)
    with api_errors(f"creating an export of project {project_id}"):
        snapshot = client.projects.exports.create(
            project_id,
            title=f"ls_sync {time.strftime('%Y-%m-%d %H:%M:%S')}",
            task_filter_options={"only_with_annotations": False},
            annotation_filter_options={"usual": True, "ground_truth": True, "skipped": True},
            serialization_options={"predictions": {"only_id": False}, "drafts": {"only_id": True}},
        )
    export_id = int(snapshot.id)
    try:
        _wait_for_export(client, project_id, export_id, snapshot.status, timeout_s)
        with api_errors(f"downloading export {export_id} of project {project_id}"):
            payload = b"".join(client.projects.exports.download(project_id, export_id, export_type="JSON"))
    finally:
        with suppress(ApiError, httpx.HTTPError):  # a snapshot left on the server is harmless
            client.projects.exports.delete(project_id, export_id)
    try:
        tasks = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise SyncError(f"export {export_id} of project {project_id} is not JSON: {exc}: {payload[:200]!r}") from exc
    if not isinstance(tasks, list):
        raise SyncError(
            f"export {export_id} of project {project_id} is a {type(tasks).__name__}, expected a list of tasks"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    tmp.write_bytes(payload)
    tmp.replace(out_path)  # never leave a half-written export where `make validate` would read it
    return out_path


def _wait_for_export(
    client: LabelStudio, project_id: int, export_id: int, status: str | None, timeout_s: float
) -> None:
    """Community Label Studio finishes the snapshot inside the POST unless Redis queues it; wait either way."""
    deadline = time.monotonic() + timeout_s
    while status != "completed":
        if status == "failed":
            raise SyncError(f"export {export_id} of project {project_id} failed on the server; see its log")
        if time.monotonic() > deadline:
            raise SyncError(f"export {export_id} of project {project_id} still {status!r} after {timeout_s:.0f} s")
        time.sleep(1.0)
        with api_errors(f"checking export {export_id} of project {project_id}"):
            status = client.projects.exports.get(project_id, export_id).status


def default_export_path(title: str | None, project_id: int) -> Path:
    slug = re.sub(r"[^0-9A-Za-z]+", "-", title or "").strip("-").lower() or f"project-{project_id}"
    return DEFAULT_EXPORT_DIR / f"{slug}.json"


# --- CLI --------------------------------------------------------------------------------------


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL"), help="server URL (env LABEL_STUDIO_URL)")
    common.add_argument(
        "--token", default=os.environ.get("LABEL_STUDIO_API_KEY"), help="API token (env LABEL_STUDIO_API_KEY)"
    )
    return common


def _project_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--title", help="project title")
    parser.add_argument("--project-id", type=int, help="project id (instead of --title)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.ls_sync", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = _connection_options()

    create = sub.add_parser("create", parents=[common], help="create the project, or update its labeling config")
    create.add_argument("--title", required=True)
    create.add_argument("--config", default=str(DEFAULT_CONFIG), help="labeling config XML")
    create.add_argument("--description")

    imp = sub.add_parser("import", parents=[common], help="import raw texts as tasks")
    _project_options(imp)
    imp.add_argument("input", help='JSONL of {"id", "text"} records, or a folder of .txt files')

    pred = sub.add_parser("predictions", parents=[common], help="attach model predictions to existing tasks")
    _project_options(pred)
    pred.add_argument("documents", help="documents JSONL with entities and relations")
    pred.add_argument(
        "--model-version", required=True, help="shown in Label Studio; one prediction per task and version"
    )
    pred.add_argument("--replace", action="store_true", help="replace earlier predictions of this model version")

    exp = sub.add_parser("export", parents=[common], help="pull the JSON export (all tasks, full predictions)")
    _project_options(exp)
    exp.add_argument("--out", help="output file (default annotations/exports/<title>.json)")
    exp.add_argument("--timeout", type=float, default=EXPORT_TIMEOUT_S, help="seconds to wait for the export")
    return parser


def run(args: argparse.Namespace) -> int:
    client = connect(args.url, args.token)
    if args.command == "create":
        project_id, created = create_or_update_project(client, args.title, args.config, args.description)
        print(f"{'created' if created else 'updated'} project {project_id} ({args.title!r}) from {args.config}")
        return 0
    project_id = resolve_project(client, args.title, args.project_id)
    if args.command == "import":
        report = import_texts(client, project_id, read_raw_texts(args.input))
        print(
            f"project {project_id}: imported {report.imported} task(s); {len(report.skipped_existing)} already present"
        )
        if report.changed_existing:
            print(
                f"  {len(report.changed_existing)} of them have a different text in the project (left unchanged): "
                + ", ".join(report.changed_existing[:20])
            )
        return 1 if report.changed_existing else 0
    if args.command == "predictions":
        try:
            documents = list(read_jsonl(args.documents))
        except (OSError, ValueError) as exc:
            raise SyncError(str(exc)) from exc
        report = attach_predictions(client, project_id, documents, args.model_version, args.replace)
        print(
            f"project {project_id}: attached {report.attached} prediction(s) ({report.replaced} replaced); "
            f"{len(report.skipped_existing)} task(s) already had {args.model_version!r}"
        )
        for label, ids in (
            ("no task for doc_id", report.missing_tasks),
            ("text differs from the task's", report.text_mismatch),
        ):
            if ids:
                print(
                    f"  {len(ids)} document(s) skipped, {label}: {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}"
                )
        return 1 if report.missing_tasks or report.text_mismatch else 0
    out = Path(args.out) if args.out else default_export_path(args.title, project_id)
    export_project(client, project_id, out, args.timeout)
    print(f"project {project_id}: export written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except SyncError as exc:
        print(f"ls_sync {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
