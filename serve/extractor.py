"""``Extractor``: a model loaded once, turning texts or documents into contract records.

Thread-safe: segmentation runs in the calling thread (RDRSegmenter's Java object answers
concurrent calls correctly, see tests/test_serve_extractor.py), and the model stage runs under one
lock. On CPU, two forwards at once only fight over the same cores, so the lock costs no throughput
and keeps memory bounded; it also lets the server count model calls and lets tests hold the model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from serve.contract import DocumentRecord, parse_input, to_record
from training.documents import Document
from training.features import SentenceWords
from training.predict import Predictor
from training.schema import RELATION_TYPES

RUNTIMES = ("torch", "onnx", "onnx-int8")

ExtractInput = str | dict | Document


def as_documents(inputs: Sequence[ExtractInput]) -> list[Document]:
    """Strings get ids ``doc-<position>``; dicts must be ``{"id", "text"}``; documents pass as they are."""
    docs = []
    for i, item in enumerate(inputs):
        if isinstance(item, Document):
            docs.append(Document(item.id, item.text))  # gold entities, if any, are not an input
        elif isinstance(item, str):
            docs.append(Document(f"doc-{i}", item))
        else:
            docs.append(parse_input(item))
    return docs


class Extractor:
    def __init__(self, predictor: Predictor, path: str | Path | None = None) -> None:
        self.predictor = predictor
        self.path = Path(path) if path is not None else None
        # Held while the model runs; public so a caller can pause the model (tests, a swap).
        self.model_lock = threading.Lock()
        self.model_calls = 0

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str = "cpu", runtime: str = "torch", onnx_dir: str | Path | None = None
    ) -> Extractor:
        """``runtime`` "onnx"/"onnx-int8" runs the encoder + tagger in ONNX Runtime, exported on
        first use into ``onnx_dir`` (default ``<path>/onnx``); the relation head stays in torch."""
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
        if runtime == "torch":
            return cls(Predictor.from_pretrained(str(path), device), path)
        from serve.onnx_runtime import OnnxPredictor

        onnx_dir = Path(onnx_dir) if onnx_dir is not None else Path(path) / "onnx"
        return cls(OnnxPredictor.from_checkpoint(path, onnx_dir, quantized=runtime == "onnx-int8"), path)

    @property
    def model_version(self) -> str:
        return self.predictor.settings.model_version

    def segment(self, texts: Sequence[str]) -> list[list[SentenceWords]]:
        return self.predictor.segment(list(texts))

    def extract(
        self,
        inputs: Sequence[ExtractInput],
        batch_size: int = 16,
        sentences: list[list[SentenceWords]] | None = None,
    ) -> list[DocumentRecord]:
        """One record per input, in input order. ``sentences`` (from ``segment``, possibly computed
        elsewhere, e.g. in a worker process) skips segmentation here."""
        docs = as_documents(inputs)
        if not docs:
            return []
        if sentences is None:
            sentences = self.segment([d.text for d in docs])
        with self.model_lock:
            predicted = self.predictor.predict(docs, batch_size=batch_size, sentences=sentences)
            self.model_calls += 1
        return [to_record(doc, self.model_version) for doc in predicted]

    def info(self) -> dict:
        """What ``GET /v1/model`` shows: version, labels, base model and the checkpoint's metrics."""
        settings = self.predictor.settings
        metrics = None
        if self.path is not None and (self.path / "metrics.json").is_file():
            metrics = json.loads((self.path / "metrics.json").read_text(encoding="utf-8"))
            metrics.pop("splits", None)  # document id lists: long and not a model property
        return {
            "model_version": settings.model_version,
            "entity_types": list(settings.head.entity_types),
            "relation_types": list(RELATION_TYPES),
            "bio_labels": list(settings.head.bio_labels),
            "base_model": settings.base_model,
            "base_model_license": settings.base_model_license,
            "segmenter": settings.segmenter,
            "max_length": settings.max_length,
            "runtime": getattr(self.predictor, "runtime", "torch"),
            "metrics": metrics,
        }
