"""The timed variants of ``serve.bench``; each runs in a process of its own (``python -m
serve.bench_variants SPEC``), so its peak RSS is its own and no variant warms caches for another.

Every variant processes the same documents, end to end:
  naive        one document per call, one sentence window per forward (batch size 1)
  engine       the batched engine: all documents in one ``Extractor.extract`` call, windows
               batched by length; also times its stages (segmentation, tokenisation, encoder +
               tagger forward, relation head, the rest of decoding) and, right after each pass,
               the bare torch encoder on that pass's own batches: the ceiling. Measured in turn in
               one process, the two see the same load, so their ratio holds on a busy machine.
  onnx         the engine with the encoder + tagger in ONNX Runtime fp32
  onnx-int8    the same, dynamically quantised to int8
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


@torch.no_grad()
def _time_encoder(extractor: Extractor, batches: list[dict]) -> float:
    encoder = extractor.predictor.model.encoder
    start = time.perf_counter()
    for batch in batches:
        encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return time.perf_counter() - start


def _summary(times: list[float], documents: int, sentences: int) -> dict:
    median = statistics.median(times)
    return {
        "seconds": [round(t, 3) for t in times],
        "median_s": round(median, 3),
        "docs_per_s": round(documents / median, 3),
        "sentences_per_s": round(sentences / median, 2),
    }


def run_variant(spec: dict) -> dict:
    texts = [json.loads(line)["text"] for line in Path(spec["docs"]).read_text(encoding="utf-8").splitlines()]
    variant, repeats, batch_size = spec["variant"], spec["repeats"], spec["batch_size"]
    runtime = {"onnx": "onnx", "onnx-int8": "onnx-int8"}.get(variant, "torch")
    started = time.perf_counter()
    extractor = Extractor.from_pretrained(spec["checkpoint"], runtime=runtime, onnx_dir=spec.get("onnx_dir"))
    extractor.extract([WARM_UP], batch_size=batch_size)  # lazy inits (JVM, allocator) are not timed
    load_s = time.perf_counter() - started
    sentences = sum(len(s) for s in extractor.segment(texts))
    totals = _stage_timers(extractor) if variant == "engine" else None
    batches: list[dict] = []  # the engine pass's own padded batches: the bare encoder reruns exactly these
    if variant == "engine":
        timed_collate = extractor.predictor._collate

        def collate_and_keep(windows):
            batches.append(timed_collate(windows))
            return batches[-1]

        extractor.predictor._collate = collate_and_keep

    times, encoder_times, stage_runs, records = [], [], [], []
    for _ in range(repeats):
        if totals is not None:
            totals.clear()
            batches.clear()
        start = time.perf_counter()
        if variant == "naive":
            records = [extractor.extract([text], batch_size=1)[0] for text in texts]
        else:
            records = extractor.extract(texts, batch_size=batch_size)
        times.append(time.perf_counter() - start)
        if totals is not None:
            stage_runs.append({**totals, "decoding (rest)": times[-1] - sum(totals.values())})
            # Right after each engine pass, so both see the same machine load (it is shared).
            encoder_times.append(_time_encoder(extractor, batches))
    if spec.get("records_out"):
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        Path(spec["records_out"]).write_text(lines, encoding="utf-8")
    result = {
        "variant": variant,
        "documents": len(texts),
        "sentences": sentences,
        **_summary(times, len(texts), sentences),
        "peak_rss_mb": memory_mb("VmHWM"),  # loading the checkpoint is usually the peak
        "rss_after_mb": memory_mb("VmRSS"),  # what the process holds while serving
        "load_s": round(load_s, 2),
        "torch_threads": torch.get_num_threads(),
    }
    if stage_runs:
        result["stages_s"] = {k: round(statistics.median(r[k] for r in stage_runs), 3) for k in stage_runs[0]}
        result["encoder"] = _summary(encoder_times, len(texts), sentences)
        result["encoder_share"] = round(statistics.median(e / t for e, t in zip(encoder_times, times)), 3)
    return result


if __name__ == "__main__":
    print(json.dumps(run_variant(json.loads(sys.argv[1]))))
