"""The Ray Data job on a local Ray instance: JSONL and Parquet in and out, records equal the Extractor's."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason="the Ray job needs `pip install -e .[ray]`")

from serve import ray_job  # noqa: E402
from serve.extractor import Extractor  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records}


def test_ray_job_writes_the_extractor_records_as_jsonl_and_parquet(local_ray, tiny_model_dir, tiny_documents, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"r{i}", "text": f"Tin {i}. {tiny_documents[i % 4].text}"} for i in range(10)]
    rows.append({"id": "empty", "text": "Không có gì."})  # a batch may hold documents without relations
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    expected = by_id(Extractor.from_pretrained(tiny_model_dir).extract(rows))

    out = ray_job.run(tiny_model_dir, tmp_path / "in.jsonl", tmp_path / "out-jsonl", "jsonl", docs_per_batch=4)
    assert by_id(ray_job.read_output(out)) == expected
    out = ray_job.run(tiny_model_dir, tmp_path / "in.parquet", tmp_path / "out-parquet", "parquet", docs_per_batch=4)
    assert by_id(ray_job.read_output(out)) == expected
    assert sum(len(r["relations"]) for r in expected.values()) > 0
