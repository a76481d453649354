"""Run configuration: three argument dataclasses, one YAML file per run, ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from transformers import RobertaConfig


@dataclass
class ModelArguments:
    # A hub id or local path of a RoBERTa-family checkpoint, or "scratch" for a randomly initialised one.
    base_model: str = "vinai/phobert-base"
    base_model_license: str = "MIT"
    # For "scratch": the tokenizer folder (PhoBERT format: vocab.txt + bpe.codes), or "build" to learn
    # a PhoBERT-format BPE vocabulary from the training text.
    tokenizer: str = ""
    build_vocab_size: int = 8000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    segmenter: str = "rdrsegmenter"
    max_length: int = 256
    use_crf: bool = False
    shape_dim: int = 32
    lexical_dim: int = 64
    dropout: float = 0.1


@dataclass
class DataArguments:
    train: str = "annotations/corpus.ls.json"
    # Documents listed under "dev"/"test" in this file are held out; others follow the id hash.
    splits_file: str = "annotations/splits.json"
    dev_fraction: float = 0.1
    test_fraction: float = 0.1
    strict: bool = False
    cache_dir: str = ".cache/features"


@dataclass
class TrainingArguments:
    output_dir: str = "runs/model"
    epochs: int = 20
    batch_size: int = 16
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    patience: int = 4
    seed: int = 13
    max_minutes: float = 0.0  # stop after this long (0: no limit); the best dev model is kept
    resume: bool = True
    num_threads: int = 0


@dataclass
class RunConfig:
    model: ModelArguments = field(default_factory=ModelArguments)
    data: DataArguments = field(default_factory=DataArguments)
    training: TrainingArguments = field(default_factory=TrainingArguments)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(value: str, current):
    if isinstance(current, bool):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"expected a boolean, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    return value


def configure(config, path: str | Path | None = None, overrides: list[str] = ()):
    """Fill a config of section dataclasses: defaults ← YAML file ← ``section.key=value`` overrides
    (also ``key=value`` when only one section has that key)."""
    sections = [f.name for f in dataclasses.fields(config)]
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if path else {}
    for section, values in (raw or {}).items():
        target = getattr(config, section, None)
        if section not in sections:
            raise ValueError(f"{path}: unknown section {section!r}; use {', '.join(sections)}")
        for key, value in (values or {}).items():
            if not hasattr(target, key):
                raise ValueError(f"{path}: unknown setting {section}.{key}")
            setattr(target, key, value)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        section_name, _, name = key.rpartition(".")
        candidates = [section_name] if section_name else [s for s in sections if hasattr(getattr(config, s), name)]
        if len(candidates) != 1 or candidates[0] not in sections or not hasattr(getattr(config, candidates[0]), name):
            raise ValueError(f"override {item!r}: no single setting called {key!r}")
        target = getattr(config, candidates[0])
        setattr(target, name, _coerce(value, getattr(target, name)))
    return config


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    return configure(RunConfig(), path, overrides)


def scratch_encoder_config(model: ModelArguments, tokenizer) -> RobertaConfig:
    """A freshly initialised PhoBERT-architecture (RoBERTa) encoder of the configured size."""
    return RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=model.hidden_size,
        num_hidden_layers=model.num_layers,
        num_attention_heads=model.num_heads,
        intermediate_size=model.intermediate_size,
        max_position_embeddings=model.max_length + 2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        type_vocab_size=1,
        hidden_dropout_prob=model.dropout,
        attention_probs_dropout_prob=model.dropout,
    )
