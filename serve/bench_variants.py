"""The timed variants of ``serve.bench``; each runs in a process of its own (``python -m
serve.bench_variants SPEC``), so its peak RSS is its own and no variant warms caches for another.

Every variant processes the same documents, end to end unless said otherwise:
  naive        one document per call, one sentence window per forward (batch size 1)
  engine       the batched engine: all documents in one ``Extractor.extract`` call, windows
               batched by length; also times its stages (segmentation, tokenisation, encoder +
               tagger forward, relation head, the rest of decoding)
  onnx         the engine with the encoder + tagger in ONNX Runtime fp32
  onnx-int8    the same, dynamically quantised to int8
  encoder      the bare torch encoder on the engine's own batches: the ceiling
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

from serve.extractor import Extractor

WARM_UP = "Đồng chí Nguyễn Văn A, Bí thư Tỉnh ủy, dự hội nghị."


def memory_mb(field: str) -> float:
    """From /proc/self/status: VmHWM, the peak resident set since this process's exec (getrusage's
    ru_maxrss would carry over the parent's peak from before the fork), or VmRSS, the current one."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _stage_timers(extractor: Extractor) -> dict[str, float]:
    """Wraps the predictor's stage methods on this instance so each call adds to a timer."""
    totals: dict[str, float] = defaultdict(float)
    predictor = extractor.predictor

    def timed(name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[name] += time.perf_counter() - start

        return wrapper

    predictor.segment = timed("segmentation", predictor.segment)
    predictor.encoder.windows = timed("tokenisation", predictor.encoder.windows)
    predictor._collate = timed("tokenisation", predictor._collate)
    predictor._forward = timed("encoder+tagger", predictor._forward)
    predictor._relations = timed("relation head", predictor._relations)
    return totals


def _collected_batches(extractor: Extractor, texts: list[str], batch_size: int) -> list[dict]:
    """The padded batches the engine builds for these texts, captured from one untimed run."""
    batches: list[dict] = []
    collate = extractor.predictor._collate

    def keep(windows):
        batch = collate(windows)
        batches.append(batch)
        return batch

    extractor.predictor._collate = keep
    extractor.extract(texts, batch_size=batch_size)
    extractor.predictor._collate = collate
    return batches


def run_variant(spec: dict) -> dict:
    texts = [json.loads(line)["text"] for line in Path(spec["docs"]).read_text(encoding="utf-8").splitlines()]
    variant, repeats, batch_size = spec["variant"], spec["repeats"], spec["batch_size"]
    runtime = {"onnx": "onnx", "onnx-int8": "onnx-int8"}.get(variant, "torch")
    started = time.perf_counter()
    extractor = Extractor.from_pretrained(spec["checkpoint"], runtime=runtime, onnx_dir=spec.get("onnx_dir"))
    extractor.extract([WARM_UP], batch_size=batch_size)  # lazy inits (JVM, allocator) are not timed
    load_s = time.perf_counter() - started
    sentences = sum(len(s) for s in extractor.segment(texts))
    totals = None

    if variant == "naive":

        def once():
            for text in texts:
                extractor.extract([text], batch_size=1)

    elif variant == "encoder":
        batches = _collected_batches(extractor, texts, batch_size)
        encoder = extractor.predictor.model.encoder

        @torch.no_grad()
        def once():
            for batch in batches:
                encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])

    else:
        totals = _stage_timers(extractor) if variant == "engine" else None

        def once():
            extractor.extract(texts, batch_size=batch_size)

    times, stage_runs = [], []
    for _ in range(repeats):
        if totals is not None:
            totals.clear()
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
        if totals is not None:
            stage_runs.append({**totals, "decoding (rest)": times[-1] - sum(totals.values())})
    if spec.get("records_out") and variant in ("engine", "onnx", "onnx-int8"):
        records = extractor.extract(texts, batch_size=batch_size)
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        Path(spec["records_out"]).write_text(lines, encoding="utf-8")
    median = statistics.median(times)
    return {
        "variant": variant,
        "documents": len(texts),
        "sentences": sentences,
        "seconds": [round(t, 3) for t in times],
        "median_s": round(median, 3),
        "docs_per_s": round(len(texts) / median, 3),
        "sentences_per_s": round(sentences / median, 2),
        "peak_rss_mb": memory_mb("VmHWM"),  # loading the checkpoint is usually the peak
        "rss_after_mb": memory_mb("VmRSS"),  # what the process holds while serving
        "load_s": round(load_s, 2),
        "torch_threads": torch.get_num_threads(),
        "stages_s": {k: round(statistics.median(r[k] for r in stage_runs), 3) for k in (stage_runs or [{}])[0]},
    }


if __name__ == "__main__":
    print(json.dumps(run_variant(json.loads(sys.argv[1]))))
