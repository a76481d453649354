"""Retraining from Label Studio annotations, with the served model swapped only if it is not worse.

A webhook asks for a run; one background thread does it: pull the project's export (via
``training.ls_sync``) or take a given export file, train with ``training.train.train`` on the
training config stored in the serving checkpoint (same recipe, new data; ``overrides`` on top,
e.g. fewer epochs), score the old and the new model on the same dev documents, and swap the new
one in only if its dev F1 (mean of entity and relation micro F1, the number training selects on)
is not lower. Requests that arrive during a run collapse into one follow-up run, so a burst of
ANNOTATION_CREATED events costs two trainings, not one per annotation.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from serve.extractor import Extractor
from training.config import RunConfig, load_config
from training.data import load_documents
from training.documents import Document
from training.train import evaluate_documents, split_documents, train

log = logging.getLogger(__name__)

RETRAIN_ACTIONS = frozenset({"ANNOTATION_CREATED", "START_TRAINING"})


class ModelHolder:
    """The served extractor; replaced whole, so a request sees either the old or the new model."""

    def __init__(self, extractor: Extractor) -> None:
        self._extractor = extractor
        self._lock = threading.Lock()

    @property
    def current(self) -> Extractor:
        return self._extractor

    def swap(self, extractor: Extractor) -> Extractor:
        with self._lock:
            old, self._extractor = self._extractor, extractor
        return old


@dataclass
class RetrainJob:
    number: int
    project: int | None
    export: str | None
    state: str = "queued"  # queued → running → done | failed
    old_version: str = ""
    new_version: str = ""
    old_f1: float | None = None
    new_f1: float | None = None
    eval_documents: int = 0
    swapped: bool = False
    error: str = ""
    output_dir: str = ""
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def retrain_config(training: dict, export: Path, out_dir: Path, overrides: list[str], cache_dir: Path) -> RunConfig:
    """The checkpoint's stored run config, pointed at the new export and a fresh output folder.
    Keys the current code no longer knows are dropped (a checkpoint may predate a refactor). The
    feature cache moves out of the serving checkpoint's folder into ``cache_dir`` unless an
    override says otherwise; data.train, output_dir and resume are always ours."""
    known = {
        section: {k: v for k, v in (training.get(section) or {}).items() if k in {f.name for f in fields}}
        for section, fields in (
            ("model", dataclasses.fields(RunConfig().model)),
            ("data", dataclasses.fields(RunConfig().data)),
            ("training", dataclasses.fields(RunConfig().training)),
        )
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / "base-config.yaml"  # as stored in the serving checkpoint
    base.write_text(yaml.safe_dump(known, allow_unicode=True, sort_keys=False), encoding="utf-8")
    config = load_config(
        base,
        [
            f"data.cache_dir={cache_dir}",
            *overrides,
            f"data.train={export}",
            f"training.output_dir={out_dir}",
            "training.resume=false",
        ],
    )
    effective = yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False)
    (out_dir / "retrain-config.yaml").write_text(effective, encoding="utf-8")  # how the new model was made
    return config


def held_out(export: Path, config: RunConfig) -> list[Document]:
    """The dev documents of the new export as training splits them (train if nothing is held out,
    as ``train`` itself does), so old and new model are scored on the same documents."""
    splits = split_documents(load_documents(export).documents, config)
    return splits["dev"] or splits["train"]


class Retrainer:
    def __init__(
        self,
        holder: ModelHolder,
        work_dir: str | Path,
        overrides: list[str] | None = None,
        pull_export: Callable[[int, Path], Path] | None = None,
        on_swap: Callable[[Extractor], None] | None = None,
    ) -> None:
        self.holder = holder
        self.work_dir = Path(work_dir)
        self.overrides = list(overrides or [])
        self.pull_export = pull_export
        self.on_swap = on_swap
        self.jobs: list[RetrainJob] = []
        self._next: RetrainJob | None = None
        self._running = False
        self._cond = threading.Condition()

    def request(self, project: int | None = None, export: str | Path | None = None) -> RetrainJob:
        """Starts a run now, or (one running already) replaces the queued follow-up with this one."""
        if export is None and (project is None or self.pull_export is None):
            raise ValueError("retraining needs an export file, or a project id and a Label Studio connection")
        with self._cond:
            job = RetrainJob(len(self.jobs) + 1, project, str(export) if export is not None else None)
            if self._next is not None:
                self._next.state = "superseded"
            self.jobs.append(job)
            self._next = job
            if not self._running:
                self._running = True
                threading.Thread(target=self._loop, name="retrain", daemon=True).start()
        return job

    def wait(self, timeout: float | None = None) -> bool:
        """True once no run is going or queued (tests and shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._running, timeout)

    def status(self) -> dict:
        with self._cond:
            return {"running": self._running, "jobs": [j.to_dict() for j in self.jobs[-20:]]}

    def _loop(self) -> None:
        while True:
            with self._cond:
                job, self._next = self._next, None
                if job is None:
                    self._running = False
                    self._cond.notify_all()
                    return
            self._run(job)

    def _run(self, job: RetrainJob) -> None:
        job.state, job.started_at = "running", time.time()
        try:
            self._train_and_compare(job)
            job.state = "done"
        except Exception as exc:  # reported in /v1/training; the served model stays as it was
            log.exception("retraining job %d failed", job.number)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        job.finished_at = time.time()

    def _train_and_compare(self, job: RetrainJob) -> None:
        old = self.holder.current
        job.old_version = old.model_version
        out_dir = self.work_dir / f"retrain-{job.number:03d}"
        export = Path(job.export) if job.export else self.pull_export(job.project, out_dir / "export.json")
        job.export = str(export)
        config = retrain_config(
            old.predictor.settings.training, export, out_dir, self.overrides, self.work_dir / "features-cache"
        )
        job.output_dir = str(out_dir)
        train(config)
        new = Extractor.from_pretrained(out_dir)
        dev = held_out(export, config)
        job.eval_documents = len(dev)
        # The old model is scored while it keeps serving: inference in eval mode mutates nothing,
        # so this needs no lock (holding the model lock would stall requests for the whole scoring).
        job.old_f1 = evaluate_documents(old.predictor, dev)["combined_f1"]
        job.new_f1 = evaluate_documents(new.predictor, dev)["combined_f1"]
        job.new_version = new.model_version
        if job.new_f1 >= job.old_f1:
            self.holder.swap(new)
            job.swapped = True
            if self.on_swap is not None:
                self.on_swap(new)
        log.info(
            "retrain %d: dev F1 %.4f (old %s) vs %.4f (new %s): %s",
            job.number,
            job.old_f1,
            job.old_version,
            job.new_f1,
            job.new_version,
            "swapped in" if job.swapped else "kept the old model",
        )


@dataclass
class LabelStudioLink:
    """Where to pull exports from: given at start-up, or learnt from Label Studio's ``/setup`` call."""

    url: str | None = None
    token: str | None = None
    by_project: dict[int, tuple[str, str]] = field(default_factory=dict)

    def remember(self, project: int, url: str | None, token: str | None) -> None:
        if url and token:
            self.by_project[project] = (url, token)

    def pull(self, project: int, dest: Path) -> Path:
        from training.ls_sync import connect, export_project

        url, token = self.by_project.get(project, (self.url, self.token))
        if self.url and self.token:  # explicit configuration wins over what /setup announced
            url, token = self.url, self.token
        return export_project(connect(url, token), project, dest)
