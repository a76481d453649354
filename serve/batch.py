"""``python -m serve.batch --model DIR --input FILE.jsonl|FOLDER --output OUT.jsonl``

Reads ``{"id", "text"}`` records (or ``.txt`` files), writes one contract record per document
(see ``serve.contract``) to OUT.jsonl, and every malformed input to OUT.errors.jsonl with its line.

Throughput: records are grouped into chunks; within a chunk the model batches sentence windows by
length (``Predictor`` sorts them), and the *next* chunk is segmented in worker processes while the
model runs on the current one.

Resumable: each chunk is appended in one write, flushed and fsync'd. A re-run reads the ids already
in OUT.jsonl (cutting off a torn last line) and skips them. Chunk membership depends only on the
input, never on what is already done, and a partly written chunk is recomputed whole (writing only
its missing ids), so every batch the model sees is the one a clean run sees: a resumed run's output
is byte-for-byte the clean run's.

Heavy imports (torch, the model) live inside functions: spawned segmentation workers re-import
this module and need none of them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from serve.inputs import Problem, count_inputs, read_inputs
from serve.segment_pool import SegmentPool
from training.documents import Document

if TYPE_CHECKING:
    from serve.extractor import Extractor


@dataclass
class Summary:
    written: int = 0
    already_done: int = 0
    problems: int = 0
    sentences: int = 0
    seconds: float = 0.0


class ResumeError(RuntimeError):
    """The output cannot be continued (e.g. written by another model version)."""


def output_file(output: str | Path) -> Path:
    """An existing folder (``make predict`` passes the model's run folder) gets predictions.jsonl."""
    output = Path(output)
    return output / "predictions.jsonl" if output.is_dir() else output


def errors_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.stem + ".errors.jsonl")


def recover(output: str | Path) -> dict[str, str]:
    """Ids already written → their model version. Whatever follows the last complete record (a
    torn line from a crash mid-write) is cut off, so appending continues on a clean line."""
    output = Path(output)
    if not output.exists():
        return {}
    done: dict[str, str] = {}
    good_end = 0
    with open(output, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                record = json.loads(raw)
                doc_id = record["id"]
            except (ValueError, KeyError, TypeError):
                break
            done[doc_id] = record.get("model_version", "")
            good_end += len(raw)
    if good_end < output.stat().st_size:
        with open(output, "r+b") as fh:
            fh.truncate(good_end)
            os.fsync(fh.fileno())
    return done


def append_durably(fh: IO[str], records: Iterable[dict]) -> None:
    """One write per chunk, then flush and fsync: after a crash a chunk is either on disk, or
    at most a torn tail that ``recover`` cuts off."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if text:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def chunked(items: Iterable[Document | Problem], size: int, on_problem) -> Iterator[list[Document]]:
    """Consecutive chunks of ``size`` valid documents; problems go to ``on_problem`` as met."""
    chunk: list[Document] = []
    for item in items:
        if isinstance(item, Problem):
            on_problem(item)
            continue
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run(
    model: str | Path,
    input_path: str | Path,
    output: str | Path,
    batch_size: int = 16,
    chunk_size: int = 64,
    workers: int = 1,
    progress: bool = True,
    extractor: Extractor | None = None,
) -> Summary:
    from tqdm.auto import tqdm

    from serve.extractor import Extractor

    started = time.perf_counter()
    output = output_file(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    done = recover(output)
    extractor = extractor or Extractor.from_pretrained(model)
    others = sorted({v for v in done.values()} - {extractor.model_version})
    if others:
        raise ResumeError(
            f"{output} already holds records of model version(s) {others}, not {extractor.model_version!r}; "
            "write to a new output file (or delete this one) rather than mix models"
        )
    summary = Summary(already_done=len(done))
    bar = tqdm(total=count_inputs(input_path), initial=len(done), unit="doc", disable=not progress, smoothing=0.05)

    with (
        SegmentPool(extractor.predictor.settings.segmenter, workers) as pool,
        open(output, "a", encoding="utf-8") as out,
        open(errors_path(output), "w", encoding="utf-8") as errors,
    ):

        def on_problem(problem: Problem) -> None:
            errors.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")
            errors.flush()
            summary.problems += 1
            bar.update(1)

        def finish(chunk: list[Document], pending) -> None:
            sentences = pending.get()
            records = extractor.extract(chunk, batch_size=batch_size, sentences=sentences)
            fresh = [r for r in records if r["id"] not in done]
            append_durably(out, fresh)
            summary.written += len(fresh)
            summary.sentences += sum(len(s) for s, r in zip(sentences, records) if r["id"] not in done)
            bar.update(len(fresh))
            bar.set_postfix(sent_per_s=f"{summary.sentences / max(time.perf_counter() - started, 1e-9):.1f}")

        previous = None
        for chunk in chunked(read_inputs(input_path), chunk_size, on_problem):
            if all(doc.id in done for doc in chunk):
                continue
            # Segment this chunk in the workers while the model runs on the previous one.
            current = (chunk, pool.submit([doc.text for doc in chunk]))
            if previous is not None:
                finish(*previous)
            previous = current
        if previous is not None:
            finish(*previous)
    bar.close()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m serve.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="checkpoint directory")
    parser.add_argument("--input", required=True, help='JSONL of {"id", "text"}, or a folder of .txt files')
    parser.add_argument(
        "--output", required=True, help="output JSONL (appended to and resumed); a folder gets predictions.jsonl"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="sentence windows per forward pass")
    parser.add_argument("--chunk-size", type=int, default=64, help="documents per chunk (one fsync each)")
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="segmentation processes (0: segment in this process)",
    )
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run(
            args.model,
            args.input,
            args.output,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
            workers=args.workers,
            progress=not args.no_progress,
        )
    except (ResumeError, FileNotFoundError) as exc:
        print(f"serve.batch: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(summary)), file=sys.stderr)
    if summary.problems:
        listed = errors_path(output_file(args.output))
        print(f"serve.batch: {summary.problems} malformed input(s) listed in {listed}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
