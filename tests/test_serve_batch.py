"""The batch job: contract records, malformed lines reported and skipped, exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serve.batch import ResumeError, errors_path, recover, run
from serve.extractor import Extractor

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def extractor(tiny_model_dir) -> Extractor:
    return Extractor.from_pretrained(tiny_model_dir)


def write_input(path: Path, tiny_documents, n: int) -> list[dict]:
    """``n`` records (fixture texts behind a varying sentence, so offsets shift) and three bad lines."""
    records = [{"id": f"d{i:03d}", "text": f"Tin số {i}. {tiny_documents[i % 4].text}"} for i in range(n)]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(3, "{not json")
    lines.insert(6, json.dumps({"id": "d001", "text": "a repeated id"}))
    lines.insert(9, json.dumps({"text": "no id"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return records


def batch_command(model: Path, input_path: Path, output: Path) -> list[str]:
    return [
        sys.executable, "-m", "serve.batch", "--model", str(model), "--input", str(input_path),
        "--output", str(output), "--chunk-size", "4", "--workers", "1", "--no-progress",
    ]  # fmt: skip


def test_killed_job_resumes_to_exactly_the_clean_output(extractor, tiny_model_dir, tiny_documents, tmp_path):
    records = write_input(tmp_path / "in.jsonl", tiny_documents, 80)
    clean, crashed = tmp_path / "clean.jsonl", tmp_path / "crashed.jsonl"
    # The reference run: in this process, segmenting in-process; the job below uses a worker process.
    run(None, tmp_path / "in.jsonl", clean, chunk_size=4, workers=0, progress=False, extractor=extractor)

    process = subprocess.Popen(
        batch_command(tiny_model_dir, tmp_path / "in.jsonl", crashed),
        cwd=REPO_ROOT,
        start_new_session=True,  # its own process group: the kill reaches the segmentation worker too
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if crashed.exists() and crashed.read_bytes().count(b"\n") >= 8:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the job ended before it could be killed; give it more input"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    written = crashed.read_bytes().count(b"\n")
    assert 8 <= written < len(records)
    with open(crashed, "ab") as fh:  # what a crash in the middle of a write leaves behind
        fh.write(b'{"id": "d9')

    subprocess.run(batch_command(tiny_model_dir, tmp_path / "in.jsonl", crashed), cwd=REPO_ROOT, check=True)
    assert crashed.read_bytes() == clean.read_bytes()
    out = [json.loads(line) for line in clean.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in out] == [r["id"] for r in records]
    assert all(o["text"] == r["text"] for o, r in zip(out, records))
    assert sum(len(o["relations"]) for o in out) > 0
    problems = [json.loads(line) for line in errors_path(crashed).read_text(encoding="utf-8").splitlines()]
    assert [p["line"] for p in problems] == [4, 7, 10]
    assert "JSONDecodeError" in problems[0]["error"] and "duplicate id 'd001'" in problems[1]["error"]
    assert errors_path(crashed).read_text() == errors_path(clean).read_text()


def test_folder_of_text_files_keeps_offsets_exact(extractor, tiny_documents, tmp_path):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    texts = {"a": tiny_documents[0].text.replace("\n", "\r\n"), "sub/b": tiny_documents[1].text}
    for name, text in texts.items():
        with open(folder / f"{name}.txt", "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    (tmp_path / "run").mkdir()  # an existing folder as --output (as `make predict` passes) gets predictions.jsonl
    summary = run(None, folder, tmp_path / "run", workers=0, progress=False, extractor=extractor)
    assert summary.written == 2 and summary.problems == 0
    lines = (tmp_path / "run" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    out = {r["id"]: r for r in map(json.loads, lines)}
    assert out == {r["id"]: r for r in extractor.extract([{"id": k, "text": v} for k, v in texts.items()])}
    assert "\r\n" in out["a"]["text"]


def test_recover_cuts_a_torn_tail_and_rerun_adds_nothing(extractor, tiny_documents, tmp_path):
    write_input(tmp_path / "in.jsonl", tiny_documents, 6)
    out = tmp_path / "out.jsonl"
    first = run(None, tmp_path / "in.jsonl", out, chunk_size=4, workers=0, progress=False, extractor=extractor)
    assert (first.written, first.problems) == (6, 3)
    complete = out.read_bytes()
    out.write_bytes(complete + b'{"id": "torn", "te')
    assert set(recover(out)) == {f"d{i:03d}" for i in range(6)}
    assert out.read_bytes() == complete
    again = run(None, tmp_path / "in.jsonl", out, chunk_size=4, workers=0, progress=False, extractor=extractor)
    assert (again.written, again.already_done) == (0, 6)
    assert out.read_bytes() == complete


def test_resume_refuses_output_of_another_model_version(extractor, tmp_path):
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "x", "text": "Tỉnh ủy họp."}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "old", "model_version": "some-other-model"}) + "\n", encoding="utf-8")
    with pytest.raises(ResumeError, match="some-other-model"):
        run(None, tmp_path / "in.jsonl", out, workers=0, progress=False, extractor=extractor)
