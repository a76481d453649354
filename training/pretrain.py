"""Domain-adaptive masked-LM pre-training: ``python -m training.pretrain CONFIG --text SRC --out DIR``.

Same segmentation and tokenizer as fine-tuning, whole-word masking over segmented words. Text is
streamed: documents are segmented in parallel worker processes into an on-disk cache keyed by the
segmenter, then packed into fixed-length sequences in a memory-mapped file, so the corpus never has
to fit in memory. Starts from an existing checkpoint (continued pre-training) or from a freshly
initialised PhoBERT-architecture model; checkpoints, resumes, and reports held-out perplexity.
The output directory is a valid ``model.base_model`` for ``make train``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForMaskedLM, AutoTokenizer, get_linear_schedule_with_warmup

from training.config import ModelArguments, configure, scratch_encoder_config
from training.features import WordEncoder
from training.splits import split_of

log = logging.getLogger("pretrain")


@dataclass
class PretrainArguments:
    seq_len: int = 128
    batch_size: int = 32
    lr: float = 5e-4
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    max_steps: int = 2000
    max_minutes: float = 0.0
    mlm_probability: float = 0.15
    eval_fraction: float = 0.02
    eval_every: int = 200
    save_every: int = 200
    seed: int = 13
    workers: int = 2
    max_documents: int = 0  # 0: all
    cache_dir: str = ".cache/pretrain"


@dataclass
class PretrainConfig:
    model: ModelArguments = field(default_factory=ModelArguments)
    pretrain: PretrainArguments = field(default_factory=PretrainArguments)


def load_pretrain_config(path: str | None, overrides: list[str]) -> PretrainConfig:
    return configure(PretrainConfig(), path, overrides)


def read_texts(source: str | Path, limit: int = 0) -> Iterator[tuple[str, str]]:
    """(id, text) pairs from JSONL files or .txt files, one at a time; bad lines name file and line."""
    source = Path(source)
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    count = 0
    for path in files:
        if path.suffix == ".jsonl":
            with open(path, encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                        doc_id, text = str(record["id"]), record["text"]
                    except (json.JSONDecodeError, KeyError, TypeError) as exc:
                        raise ValueError(f"{path}:{line_no}: needs a JSON object with 'id' and 'text' ({exc})") from exc
                    yield f"{path.stem}/{doc_id}", text
                    count += 1
                    if limit and count >= limit:
                        return
        elif path.suffix == ".txt":
            yield path.stem, path.read_text(encoding="utf-8")
            count += 1
            if limit and count >= limit:
                return


_SEGMENTER = None


def _segment_worker(item: tuple[str, str, str]) -> tuple[str, list[list[str]]]:
    """Runs in a worker process; each process owns its segmenter (RDRSegmenter holds a JVM)."""
    global _SEGMENTER
    from training.features import document_sentences
    from training.segment import get_segmenter

    doc_id, text, segmenter_name = item
    if _SEGMENTER is None:
        _SEGMENTER = get_segmenter(segmenter_name)
    return doc_id, [[w.form for w in s.words] for s in document_sentences(text, _SEGMENTER)]


def segmented_documents(source: str, segmenter: str, cache_dir: Path, workers: int, limit: int) -> Path:
    """Segment every document once; the cache file is keyed by segmenter and the source's contents."""
    key = hashlib.sha256()
    for path in sorted(Path(source).rglob("*")) if Path(source).is_dir() else [Path(source)]:
        if path.is_file():
            key.update(f"{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode())
    key.update(f"{segmenter}:{limit}".encode())
    cache = cache_dir / f"segmented-{segmenter}-{key.hexdigest()[:16]}.jsonl"
    if cache.exists():
        log.info("segmented text from cache %s", cache)
        return cache
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".part")
    items = ((doc_id, text, segmenter) for doc_id, text in read_texts(source, limit))
    with open(partial, "w", encoding="utf-8") as out, get_context("spawn").Pool(max(1, workers)) as pool:
        for doc_id, sentences in tqdm(pool.imap(_segment_worker, items, chunksize=4), desc="segmenting", mininterval=5):
            out.write(json.dumps({"id": doc_id, "sentences": sentences}, ensure_ascii=False) + "\n")
    partial.rename(cache)
    return cache


def build_tokenizer(config: PretrainConfig, segmented: Path, out_dir: Path):
    m = config.model
    if m.base_model != "scratch":
        return AutoTokenizer.from_pretrained(m.base_model)
    if m.tokenizer and m.tokenizer != "build":
        return AutoTokenizer.from_pretrained(m.tokenizer)
    from training.vocab import build_tokenizer_files

    counts: Counter = Counter()
    with open(segmented, encoding="utf-8") as fh:
        for line in fh:
            for sentence in json.loads(line)["sentences"]:
                counts.update(sentence)
    return AutoTokenizer.from_pretrained(
        build_tokenizer_files(counts.elements(), out_dir / "tokenizer", m.build_vocab_size)
    )


def pack_sequences(segmented: Path, tokenizer, seq_len: int, eval_fraction: float, cache_dir: Path) -> dict:
    """Pack sentences into <s> … </s> sequences on disk: token ids and a word-start flag per position."""
    encoder = WordEncoder(tokenizer, seq_len)
    tag = hashlib.sha256(f"{segmented.name}|{len(tokenizer)}|{tokenizer.name_or_path}|{seq_len}".encode()).hexdigest()[
        :12
    ]
    out = {}
    for split in ("train", "eval"):
        ids_path = cache_dir / f"packed-{tag}-{split}.ids.npy"
        if not ids_path.exists():
            break
        out[split] = (
            np.load(ids_path, mmap_mode="r"),
            np.load(ids_path.with_suffix("").with_suffix(".starts.npy"), mmap_mode="r"),
        )
    if len(out) == 2:
        return out
    buffers = {"train": ([], []), "eval": ([], [])}
    width = seq_len - 2
    with open(segmented, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            split = "eval" if split_of(record["id"], 0.0, eval_fraction, salt="mlm") == "test" else "train"
            ids, starts = [], []
            for sentence in record["sentences"]:
                for form in sentence:
                    pieces = list(encoder.ids(form))[:width]
                    if len(ids) + len(pieces) > width:
                        buffers[split][0].append(ids)
                        buffers[split][1].append(starts)
                        ids, starts = [], []
                    starts.extend([1] + [0] * (len(pieces) - 1))
                    ids.extend(pieces)
            if ids:
                buffers[split][0].append(ids)
                buffers[split][1].append(starts)
    for split, (id_rows, start_rows) in buffers.items():
        ids_arr = np.full((len(id_rows), seq_len), tokenizer.pad_token_id, dtype=np.int32)
        starts_arr = np.zeros((len(id_rows), seq_len), dtype=np.uint8)
        for i, (row, flags) in enumerate(zip(id_rows, start_rows)):
            ids_arr[i, 0] = tokenizer.cls_token_id
            ids_arr[i, 1 : 1 + len(row)] = row
            ids_arr[i, 1 + len(row)] = tokenizer.sep_token_id
            starts_arr[i, 1 : 1 + len(flags)] = flags
        ids_path = cache_dir / f"packed-{tag}-{split}.ids.npy"
        np.save(ids_path, ids_arr)
        np.save(ids_path.with_suffix("").with_suffix(".starts.npy"), starts_arr)
        out[split] = (ids_arr, starts_arr)
    return out


def whole_word_mask(ids: torch.Tensor, starts: torch.Tensor, tokenizer, probability: float, generator) -> tuple:
    """Mask whole segmented words: 80% <mask>, 10% a random token, 10% unchanged; labels -100 elsewhere."""
    special = (ids == tokenizer.pad_token_id) | (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id)
    word_index = torch.cumsum(starts.long(), dim=1)
    chosen_words = torch.rand(ids.size(0), ids.size(1) + 1, generator=generator) < probability
    masked = torch.gather(chosen_words, 1, word_index) & ~special
    labels = torch.where(masked, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[masked & (roll < 0.8)] = tokenizer.mask_token_id
    random_tokens = torch.randint(4, len(tokenizer), ids.shape, generator=generator)
    swap = masked & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_tokens[swap]
    return inputs, labels


def build_model(config: PretrainConfig, tokenizer):
    m = config.model
    if m.base_model != "scratch":
        return AutoModelForMaskedLM.from_pretrained(m.base_model)
    return AutoModelForMaskedLM.from_config(scratch_encoder_config(m, tokenizer))


def mlm_loss(model, inputs: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on masked positions only: the vocabulary projection is most of an MLM step's
    cost on a CPU, and it is wasted on the ~85% of positions that carry no label."""
    hidden = model.base_model(input_ids=inputs, attention_mask=attention).last_hidden_state
    selected = labels != -100
    logits = model.lm_head(hidden[selected])
    return torch.nn.functional.cross_entropy(logits, labels[selected])


@torch.no_grad()
def held_out_loss(model, data, tokenizer, args: PretrainArguments, max_batches: int = 20) -> float:
    model.eval()
    ids, starts = data
    generator = torch.Generator().manual_seed(args.seed)  # the same masks every time: comparable losses
    total, count = 0.0, 0
    for begin in range(0, min(len(ids), max_batches * args.batch_size), args.batch_size):
        batch_ids = torch.from_numpy(np.asarray(ids[begin : begin + args.batch_size])).long()
        batch_starts = torch.from_numpy(np.asarray(starts[begin : begin + args.batch_size]))
        inputs, labels = whole_word_mask(batch_ids, batch_starts, tokenizer, args.mlm_probability, generator)
        total += float(mlm_loss(model, inputs, (batch_ids != tokenizer.pad_token_id).long(), labels))
        count += 1
    model.train()
    return total / max(count, 1)


def pretrain(config: PretrainConfig, text: str, out_dir: str) -> dict:
    args = config.pretrain
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    cache_dir = Path(args.cache_dir)
    segmented = segmented_documents(text, config.model.segmenter, cache_dir, args.workers, args.max_documents)
    state_dir = out / "checkpoint-last"
    tokenizer = (
        AutoTokenizer.from_pretrained(state_dir) if state_dir.exists() else build_tokenizer(config, segmented, out)
    )
    data = pack_sequences(segmented, tokenizer, args.seq_len, args.eval_fraction, cache_dir)
    log.info("sequences: train %d, held out %d (length %d)", len(data["train"][0]), len(data["eval"][0]), args.seq_len)
    model = AutoModelForMaskedLM.from_pretrained(state_dir) if state_dir.exists() else build_model(config, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * args.max_steps), args.max_steps)
    history, step = [], 0
    if (state_dir / "trainer_state.json").exists():
        saved = json.loads((state_dir / "trainer_state.json").read_text())
        step, history = saved["step"], saved["history"]
        optimizer.load_state_dict(torch.load(state_dir / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(state_dir / "scheduler.pt", weights_only=True))
        log.info("resumed at step %d", step)
    if step == 0:
        history.append({"step": 0, "held_out_loss": round(held_out_loss(model, data["eval"], tokenizer, args), 4)})
    train_ids, train_starts = data["train"]
    generator = torch.Generator().manual_seed(args.seed + step)
    started = time.time()
    model.train()
    bar = tqdm(total=args.max_steps, initial=step, desc="pre-training", mininterval=10)
    while step < args.max_steps:
        rows = torch.randint(0, len(train_ids), (args.batch_size,), generator=generator).numpy()
        batch_ids = torch.from_numpy(np.asarray(train_ids[np.sort(rows)])).long()
        batch_starts = torch.from_numpy(np.asarray(train_starts[np.sort(rows)]))
        inputs, labels = whole_word_mask(batch_ids, batch_starts, tokenizer, args.mlm_probability, generator)
        loss = mlm_loss(model, inputs, (batch_ids != tokenizer.pad_token_id).long(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        out_of_time = args.max_minutes and (time.time() - started) / 60 > args.max_minutes
        if step % args.eval_every == 0 or step == args.max_steps or out_of_time:
            held = held_out_loss(model, data["eval"], tokenizer, args)
            history.append({"step": step, "train_loss": round(loss.item(), 4), "held_out_loss": round(held, 4)})
            log.info("step %d held-out loss %.4f perplexity %.1f", step, held, math.exp(min(held, 50)))
        if step % args.save_every == 0 or step == args.max_steps or out_of_time:
            model.save_pretrained(state_dir)
            tokenizer.save_pretrained(state_dir)
            torch.save(optimizer.state_dict(), state_dir / "optimizer.pt")
            torch.save(scheduler.state_dict(), state_dir / "scheduler.pt")
            (state_dir / "trainer_state.json").write_text(json.dumps({"step": step, "history": history}))
        if out_of_time:
            log.info("time budget of %.1f minutes reached at step %d", args.max_minutes, step)
            break
    bar.close()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    summary = {
        "steps": step,
        "history": history,
        "held_out_loss": history[-1]["held_out_loss"],
        "held_out_perplexity": round(math.exp(min(history[-1]["held_out_loss"], 50)), 2),
        "segmenter": config.model.segmenter,
        "text": text,
        "config": {"model": asdict(config.model), "pretrain": asdict(args)},
    }
    (out / "pretrain_metrics.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    _write_card(out, summary)
    return summary


def _write_card(out: Path, summary: dict) -> None:
    m = summary["config"]["model"]
    first, last = summary["history"][0]["held_out_loss"], summary["held_out_loss"]
    (out / "README.md").write_text(
        f"""---
language: vi
license: mit
library_name: transformers
tags: [fill-mask, roberta, phobert, vietnamese]
base_model: {m["base_model"]}
---

# Domain-adapted masked-LM encoder

Masked-LM pre-training (whole-word masking over `{summary["segmenter"]}` words) on `{summary["text"]}`,
starting from `{m["base_model"]}` ({
            "freshly initialised, " + str(m["num_layers"]) + " layers, hidden " + str(m["hidden_size"])
            if m["base_model"] == "scratch"
            else "continued pre-training"
        }), {summary["steps"]} steps.

Held-out masked-LM loss: {first:.3f} at step 0 → {last:.3f} (perplexity {summary["held_out_perplexity"]}).

Use as the starting point for fine-tuning: `make train ARGS="model.base_model={out}"`. Input must be
segmented with `{summary["segmenter"]}`, as in pre-training. Licence of the base: vinai/phobert-base is MIT,
vinai/phobert-base-v2 is AGPL-3.0.
""",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.pretrain")
    parser.add_argument("config", nargs="?", help="YAML with model: and pretrain: sections")
    parser.add_argument("--text", required=True, help="JSONL ({id, text} per line), .txt, or a folder of them")
    parser.add_argument("--out", required=True)
    parser.add_argument("overrides", nargs="*", help="pretrain.key=value or model.key=value")
    args = parser.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    if args.config and "=" in args.config:  # no config file, only overrides
        args.overrides.insert(0, args.config)
        args.config = None
    config = load_pretrain_config(args.config, args.overrides)
    summary = pretrain(config, args.text, args.out)
    print(json.dumps({k: summary[k] for k in ("steps", "held_out_loss", "held_out_perplexity")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
