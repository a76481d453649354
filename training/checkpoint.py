"""Checkpoint directory: Hugging Face layout, safetensors weights, JSON settings; nothing unpickled.

config.json              the encoder's config (AutoConfig reads it)
model.safetensors        encoder + heads
extractor_config.json    labels, head sizes, segmenter, max length, model version, training config
tokenizer files          as ``save_pretrained`` writes them
metrics.json, README.md  written by training
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel, AutoTokenizer

from training.model import HeadConfig, JointModel

SETTINGS_FILE = "extractor_config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass
class Settings:
    segmenter: str = "rdrsegmenter"
    max_length: int = 256
    model_version: str = ""
    base_model: str = ""
    base_model_license: str = ""
    head: HeadConfig = field(default_factory=HeadConfig)
    training: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "segmenter": self.segmenter,
            "max_length": self.max_length,
            "model_version": self.model_version,
            "base_model": self.base_model,
            "base_model_license": self.base_model_license,
            "head": self.head.to_dict(),
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        data = dict(data)
        data["head"] = HeadConfig(**data.get("head", {}))
        return cls(**data)


def save_checkpoint(directory: str | Path, model: JointModel, tokenizer, settings: Settings) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.encoder.config.save_pretrained(directory)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(_untie(state), str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    tokenizer.save_pretrained(directory)
    (directory / SETTINGS_FILE).write_text(
        json.dumps(settings.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return directory


def _untie(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    seen: dict[int, str] = {}
    out = {}
    for name, tensor in state.items():
        key = tensor.data_ptr()
        out[name] = tensor.clone() if key in seen else tensor
        seen.setdefault(key, name)
    return out


def load_checkpoint(directory: str | Path, device: str = "cpu") -> tuple[JointModel, object, Settings]:
    directory = Path(directory)
    if not (directory / SETTINGS_FILE).exists():
        raise FileNotFoundError(f"{directory} is not a checkpoint of this project (no {SETTINGS_FILE})")
    settings = Settings.from_dict(json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8")))
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(directory), add_pooling_layer=False)
    model = JointModel(encoder, settings.head)
    missing, unexpected = model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=False)
    if missing or unexpected:
        raise ValueError(f"{directory}: weights do not match the model (missing {missing}, unexpected {unexpected})")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    return model.to(device).eval(), tokenizer, settings
