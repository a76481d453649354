"""``python -m serve.bench [--model DIR --gold PATH] [--docs N --repeats R --out FILE]``

Throughput of every way this project can run the model, side by side, at phobert-base size (a
randomly initialised RoBERTa, hidden 768, 12 layers, PhoBERT's vocabulary; see serve.bench_model)
on a fixed set of real articles: the first ``--docs`` articles of the unlabeled corpus that are
shorter than ``--max-chars`` characters (the text is read at run time, never stored here).

Reports, as a table and as JSON (``--out``):
  * documents/s and sentences/s, medians of ``--repeats`` runs, ratio to the naive loop, peak RSS,
    each variant in its own process (serve.bench_variants);
  * where the engine's time goes: segmentation, tokenisation, encoder + tagger, relation head,
    the rest of decoding; and the share of the bare encoder's speed (the ceiling) it keeps;
  * how far ONNX Runtime fp32 / int8 predictions differ from torch on these articles;
  * with ``--model`` (a trained checkpoint) and ``--gold``: entity and relation F1, torch vs int8,
    on the gold documents (restricted to the model's held-out split when the gold set holds it);
  * server latency p50/p95 with ``--clients`` concurrent clients on 127.0.0.1 (one paragraph per
    request), next to the same requests sent one at a time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "unlabeled" / "party-news.jsonl"
TOKENIZER = REPO_ROOT.parent / "shared" / "phobert-base-tokenizer"
VARIANTS = ("naive", "engine", "onnx", "onnx-int8")  # each in its own process; "encoder" comes with "engine"
ROWS = (*VARIANTS, "encoder")
LABELS = {
    "naive": "(a) naive: 1 doc/call, batch 1",
    "engine": "(b) batched engine (torch)",
    "onnx": "(c) ONNX Runtime fp32",
    "onnx-int8": "(d) ONNX Runtime int8 (dynamic)",
    "encoder": "(e) bare encoder, same batches",
}


def select_documents(path: Path, count: int, max_chars: int) -> list[dict]:
    docs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if len(record["text"]) <= max_chars:
                docs.append({"id": record["id"], "text": record["text"]})
                if len(docs) == count:
                    break
    return docs


def prepare_checkpoint(work_dir: Path, docs: list[dict]) -> tuple[Path, dict]:
    """The random phobert-base-size checkpoint and its ONNX exports, built once into work_dir."""
    from serve.bench_model import VERSION, build_random_checkpoint
    from serve.onnx_runtime import FP32_FILE, INT8_FILE, export_onnx, onnx_file_size_mb, quantize_int8
    from training.checkpoint import load_checkpoint

    checkpoint, onnx_dir, info = work_dir / "phobert-base-random", work_dir / "phobert-base-random-onnx", {}
    settings_file = checkpoint / "extractor_config.json"
    if not (settings_file.exists() and json.loads(settings_file.read_text())["model_version"] == VERSION):
        start = time.perf_counter()
        shutil.rmtree(onnx_dir, ignore_errors=True)  # exports of an older checkpoint
        build_random_checkpoint(checkpoint, TOKENIZER, [d["text"] for d in docs[:2]])
        info["build_s"] = round(time.perf_counter() - start, 1)
    if not (onnx_dir / FP32_FILE).exists():
        start = time.perf_counter()
        export_onnx(load_checkpoint(checkpoint)[0], onnx_dir / FP32_FILE)
        info["onnx_export_s"] = round(time.perf_counter() - start, 1)
    if not (onnx_dir / INT8_FILE).exists():
        start = time.perf_counter()
        quantize_int8(onnx_dir / FP32_FILE, onnx_dir / INT8_FILE)
        info["int8_quantize_s"] = round(time.perf_counter() - start, 1)
    info["onnx_fp32_mb"] = onnx_file_size_mb(onnx_dir / FP32_FILE)
    info["onnx_int8_mb"] = onnx_file_size_mb(onnx_dir / INT8_FILE)
    return checkpoint, info


def run_variant(spec: dict) -> dict:
    """One variant in a fresh process; its last stdout line is the JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "serve.bench_variants", json.dumps(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"variant {spec['variant']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(reference: list[dict], other: list[dict]) -> dict:
    """How many entities and relations two runs share (same span and type; same typed pair)."""

    def entities(records):
        return {(r["id"], e["start"], e["end"], e["type"]) for r in records for e in r["entities"]}

    def relations(records):
        out = set()
        for r in records:
            span = {e["id"]: (e["start"], e["end"]) for e in r["entities"]}
            out |= {(r["id"], x["type"], span[x["head"]], span[x["tail"]]) for x in r["relations"]}
        return out

    result = {}
    for name, get in (("entities", entities), ("relations", relations)):
        a, b = get(reference), get(other)
        result[f"{name}_same"] = round(len(a & b) / max(len(a | b), 1), 4)
    return result


def int8_f1(model: Path, gold_path: Path, work_dir: Path) -> dict:
    """Entity / relation micro F1 of the trained model in torch, ONNX fp32 and ONNX int8."""
    from serve.contract import to_document
    from serve.extractor import Extractor
    from training.data import load_documents
    from training.metrics import entity_scores, relation_scores

    gold = load_documents(gold_path).documents
    split, held = "all", set()
    metrics_file = model / "metrics.json"
    if metrics_file.exists():
        splits = json.loads(metrics_file.read_text(encoding="utf-8")).get("splits", {})
        for name in ("test", "dev"):
            held = set(splits.get(name, [])) & {d.id for d in gold}
            if held:
                split = name
                break
    if held:
        gold = [d for d in gold if d.id in held]
    out = {"gold": str(gold_path), "documents": len(gold), "split": split}
    for runtime in ("torch", "onnx", "onnx-int8"):
        extractor = Extractor.from_pretrained(model, runtime=runtime, onnx_dir=work_dir / f"{model.name}-onnx")
        predicted = [to_document(r) for r in extractor.extract(gold, batch_size=32)]
        out[runtime] = {
            "entity_f1": entity_scores(gold, predicted)["micro"]["f1"],
            "relation_f1": relation_scores(gold, predicted)["micro"]["f1"],
        }
    for key in ("entity_f1", "relation_f1"):
        out[f"int8_change_{key}"] = round(out["onnx-int8"][key] - out["torch"][key], 4)
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def paragraphs(docs: list[dict], min_chars: int = 80) -> list[str]:
    return [p.strip() for d in docs for p in d["text"].split("\n") if len(p.strip()) >= min_chars]


def _timed_requests(url: str, texts: list[str], clients: int) -> list[float]:
    """Latency of each request, ``clients`` threads each sending its next text when answered."""
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(enumerate(texts))

    def client() -> None:
        with httpx.Client(timeout=600) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    i, text = queue.pop(0)
                start = time.perf_counter()
                response = http.post(f"{url}/v1/extract", json={"id": f"p{i}", "text": text})
                elapsed = time.perf_counter() - start
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def server_latency(checkpoint: Path, docs: list[dict], clients: int, requests: int, work_dir: Path) -> dict:
    """A real server process on 127.0.0.1; each request one paragraph of the bench articles."""
    import httpx

    texts = paragraphs(docs)
    texts = [texts[i % len(texts)] for i in range(requests)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "serve.server", "--model", str(checkpoint), "--port", str(port)]
    command += ["--log-level", "warning", "--work-dir", str(work_dir / "retrain")]
    server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"server exited: {server.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer /health")
            time.sleep(0.2)
        _timed_requests(url, texts[:2], 1)  # warm-up
        alone = _timed_requests(url, texts, 1)  # the same requests one at a time: the baseline
        before = httpx.get(f"{url}/v1/stats").json()
        start = time.perf_counter()
        loaded = _timed_requests(url, texts, clients)
        wall = time.perf_counter() - start
        after = httpx.get(f"{url}/v1/stats").json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    calls = after["model_calls"] - before["model_calls"]
    return {
        "clients": clients,
        "requests": len(loaded),
        "mean_chars_per_request": round(statistics.mean(len(t) for t in texts)),
        "p50_ms": round(1000 * percentile(loaded, 0.50)),
        "p95_ms": round(1000 * percentile(loaded, 0.95)),
        "max_ms": round(1000 * max(loaded)),
        "requests_per_s": round(len(loaded) / wall, 2),
        "model_calls": calls,
        "requests_per_model_call": round(len(loaded) / max(calls, 1), 2),
        "one_client_p50_ms": round(1000 * percentile(alone, 0.50)),
        "one_client_requests_per_s": round(len(alone) / sum(alone), 2),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: with few samples, a value that was really observed."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def print_report(report: dict) -> None:
    results = report["variants"]
    base = results["naive"]["median_s"]
    print(
        f"\n{report['documents']} articles, {report['sentences']} sentences, {report['characters']} characters; "
        f"phobert-base size (random weights), {report['torch_threads']} torch threads, "
        f"load average {report['load_average_start']} at start"
    )
    columns = ("docs/s", "sent/s", "x (a)", "median s", "peak RSS MB", "RSS after")
    header = f"{'variant':<34}" + "".join(f" {c:>11}" for c in columns)
    print(header + "\n" + "-" * len(header))
    for name in ROWS:
        r = results[name]
        print(
            f"{LABELS[name]:<34} {r['docs_per_s']:>11.3f} {r['sentences_per_s']:>11.2f} {base / r['median_s']:>11.2f}"
            f" {r['median_s']:>11.2f} {r['peak_rss_mb']:>11.0f} {r['rss_after_mb']:>11.0f}"
        )
    stages = results["engine"]["stages_s"]
    total = results["engine"]["median_s"]
    print(f"\nwhere the engine's {total:.2f} s go (medians):")
    for stage, seconds in stages.items():
        print(f"  {stage:<18} {seconds:>8.2f} s  {100 * seconds / total:>5.1f} %")
    print(
        f"  engine keeps {100 * report['engine_share_of_encoder_ceiling']:.1f} % of the bare encoder's speed "
        "(median of per-pass ratios, engine and encoder timed in turn)"
    )
    for name in ("onnx", "onnx-int8"):
        a = report["agreement_with_torch"][name]
        print(
            f"  {name} vs torch on these articles: entities {100 * a['entities_same']:.1f} % same, "
            f"relations {100 * a['relations_same']:.1f} % same"
        )
    if report.get("f1"):
        f1 = report["f1"]
        print(f"\nF1 of {report['model']} on {f1['documents']} gold documents ({f1['split']} split):")
        for runtime in ("torch", "onnx", "onnx-int8"):
            scores = f1[runtime]
            print(f"  {runtime:<10} entity F1 {scores['entity_f1']:.4f}  relation F1 {scores['relation_f1']:.4f}")
        print(
            f"  int8 change: entity {f1['int8_change_entity_f1']:+.4f}, relation {f1['int8_change_relation_f1']:+.4f}"
        )
    if report.get("server"):
        s = report["server"]
        print(
            f"\nserver on 127.0.0.1, {s['clients']} concurrent clients, {s['requests']} requests of "
            f"~{s['mean_chars_per_request']} characters: p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
            f"{s['requests_per_s']} req/s, {s['requests_per_model_call']} requests per model call; "
            f"one client alone: p50 {s['one_client_p50_ms']} ms, {s['one_client_requests_per_s']} req/s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a trained checkpoint, for the int8 F1 change (with --gold)")
    parser.add_argument(
        "--gold",
        default=str(REPO_ROOT / "annotations"),
        help="gold documents (export, .jsonl, .ann or folder) for the F1 change; default the annotated corpus",
    )
    parser.add_argument("--corpus", default=str(CORPUS), help="articles to time (JSONL id/text)")
    parser.add_argument("--docs", type=int, default=4, help="articles to time")
    parser.add_argument("--max-chars", type=int, default=5000, help="skip longer articles")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (median reported)")
    parser.add_argument("--batch-size", type=int, default=16, help="sentence windows per forward pass")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=24, help="server requests (sent alone, then concurrently)")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--work-dir", default=str(REPO_ROOT / "runs" / "bench"), help="checkpoint and ONNX cache")
    parser.add_argument("--out", help="write the report here as JSON")
    args = parser.parse_args(argv)

    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    docs = select_documents(Path(args.corpus), args.docs, args.max_chars)
    docs_file = work_dir / "bench-docs.jsonl"  # under runs/ (git-ignored): corpus text stays out of git
    docs_file.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    report: dict = {"load_average_start": [round(x, 2) for x in os.getloadavg()], "cpu_count": os.cpu_count()}
    print(f"preparing the phobert-base-size checkpoint and its ONNX exports in {work_dir} ...", file=sys.stderr)
    checkpoint, report["preparation"] = prepare_checkpoint(work_dir, docs)

    results, records = {}, {}
    for variant in VARIANTS:
        print(f"timing {LABELS[variant]} ...", file=sys.stderr)
        spec = {
            "variant": variant,
            "checkpoint": str(checkpoint),
            "onnx_dir": str(work_dir / "phobert-base-random-onnx"),
            "docs": str(docs_file),
            "repeats": args.repeats,
            "batch_size": args.batch_size,
            "records_out": str(work_dir / f"records-{variant}.jsonl"),
        }
        results[variant] = run_variant(spec)
        out = Path(spec["records_out"])
        if out.exists():
            records[variant] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    first = results["engine"]
    # (e) was timed inside the engine's process, right after each engine pass: same memory figures.
    results["encoder"] = {
        **first["encoder"],
        "peak_rss_mb": first["peak_rss_mb"],
        "rss_after_mb": first["rss_after_mb"],
    }
    report.update(
        documents=first["documents"],
        sentences=first["sentences"],
        characters=sum(len(d["text"]) for d in docs),
        torch_threads=first["torch_threads"],
        variants=results,
        ratio_to_naive={k: round(results["naive"]["median_s"] / v["median_s"], 2) for k, v in results.items()},
        engine_share_of_encoder_ceiling=first["encoder_share"],
        agreement_with_torch={k: agreement(records["engine"], records[k]) for k in ("onnx", "onnx-int8")},
    )
    if args.model and not (Path(args.model) / "extractor_config.json").exists():
        print(f"no checkpoint at {args.model}: the int8 F1 change is skipped (train one first)", file=sys.stderr)
    elif args.model and args.gold:
        print("scoring the trained model in torch / ONNX fp32 / int8 ...", file=sys.stderr)
        report["model"] = args.model
        report["f1"] = int8_f1(Path(args.model), Path(args.gold), work_dir)
    if not args.no_server:
        print(f"server latency with {args.clients} clients ...", file=sys.stderr)
        report["server"] = server_latency(checkpoint, docs, args.clients, args.requests, work_dir)
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print_report(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
