"""``python -m serve.ray_job --model DIR --input IN --output OUT_DIR [--format jsonl|parquet]``

The batch job on Ray Data, for corpora bigger than one machine: read JSONL or Parquet
``{"id", "text"}`` rows → ``map_batches`` with an actor that loads the ``Extractor`` once and keeps
it → write contract records (``serve.contract``) as JSONL or Parquet files under OUT_DIR.

Records are returned as Arrow tables with an explicit schema: inferring nested types from Python
lists fails on a batch whose documents happen to hold no relation (an empty list has no type).
Scale-out is Ray's: ``--actors`` extractor processes, each one model copy; on a cluster, start it
with ``ray job submit`` (``ray.init`` joins the running cluster when ``RAY_ADDRESS`` is set).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyarrow as pa

from serve.contract import DocumentRecord

ENTITY = pa.struct(
    [
        ("id", pa.string()),
        ("type", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("text", pa.string()),
        ("score", pa.float64()),
    ]
)
RELATION = pa.struct(
    [("id", pa.string()), ("type", pa.string()), ("head", pa.string()), ("tail", pa.string()), ("score", pa.float64())]
)
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("model_version", pa.string()),
        ("entities", pa.list_(ENTITY)),
        ("relations", pa.list_(RELATION)),
    ]
)


def records_to_table(records: list[DocumentRecord]) -> pa.Table:
    return pa.Table.from_pylist(records, schema=SCHEMA)


class ExtractActor:
    """One per Ray actor process: the model is loaded once, then serves every batch sent to it."""

    def __init__(self, model_dir: str, batch_size: int = 16) -> None:
        from serve.extractor import Extractor

        self.extractor = Extractor.from_pretrained(model_dir)
        self.batch_size = batch_size

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = [
            {"id": str(i), "text": t} for i, t in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist())
        ]
        return records_to_table(self.extractor.extract(rows, batch_size=self.batch_size))


def read_dataset(path: str | Path):
    import ray.data

    path = str(path)
    if path.endswith(".parquet") or (Path(path).is_dir() and any(Path(path).glob("*.parquet"))):
        return ray.data.read_parquet(path)
    return ray.data.read_json(path)


def run(
    model: str | Path,
    input_path: str | Path,
    output: str | Path,
    fmt: str = "jsonl",
    docs_per_batch: int = 32,
    batch_size: int = 16,
    actors: int = 1,
) -> str:
    """Runs the job and returns the output directory. Needs ``ray.init`` first, or starts a local Ray."""
    import ray
    import ray.data

    if not ray.is_initialized():
        ray.init()
    ds = read_dataset(input_path).select_columns(["id", "text"])
    ds = ds.map_batches(
        ExtractActor,
        fn_constructor_kwargs={"model_dir": str(Path(model).resolve()), "batch_size": batch_size},
        batch_size=docs_per_batch,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1,
    )
    output = str(output)
    if fmt == "parquet":
        ds.write_parquet(output)
    elif fmt == "jsonl":
        ds.write_json(output, force_ascii=False)
    else:
        raise ValueError(f"unknown format {fmt!r}; use jsonl or parquet")
    return output


def read_output(path: str | Path) -> list[dict]:
    """All records under a job's output directory (JSONL or Parquet files), in no set order."""
    path = Path(path)
    records: list[dict] = []
    for file in sorted(path.iterdir()):
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            records.extend(pq.read_table(file).to_pylist())
        elif file.suffix in (".json", ".jsonl"):
            with open(file, encoding="utf-8") as fh:
                records.extend(json.loads(line) for line in fh if line.strip())
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.ray_job", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="JSONL or Parquet file/folder with id and text")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    parser.add_argument("--docs-per-batch", type=int, default=32, help="documents per map_batches call")
    parser.add_argument("--batch-size", type=int, default=16, help="sentence windows per forward pass")
    parser.add_argument("--actors", type=int, default=1, help="extractor actors (one model copy each)")
    args = parser.parse_args(argv)
    out = run(args.model, args.input, args.output, args.format, args.docs_per_batch, args.batch_size, args.actors)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
