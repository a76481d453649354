"""The encoder + tagger in ONNX Runtime (fp32, or dynamically quantised to int8).

Only ``Predictor._forward`` changes: sub-word ids in, word vectors and tag logits out. Windowing,
batching, decoding and the relation head (a small MLP over word vectors, run per entity pair) stay
the torch code every other runtime uses, so the runtimes differ only in the numbers the encoder gives.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from training.checkpoint import load_checkpoint
from training.lexical import FEATURES_PER_WORD
from training.predict import Predictor

log = logging.getLogger(__name__)

BASE_INPUTS = ("input_ids", "attention_mask", "word_starts", "shapes")
OUTPUTS = ("words", "tag_logits")
FP32_FILE = "encoder_tagger.onnx"
INT8_FILE = "encoder_tagger.int8.onnx"


class EncoderTagger(nn.Module):
    """What ONNX receives: the first half of ``JointModel`` (``word_vectors`` + ``tag_logits``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, word_starts, shapes, lexical=None):
        words = self.model.word_vectors(input_ids, attention_mask, word_starts, shapes, lexical)
        return words, self.model.tag_logits(words)


class SumOfEmbeddings(nn.Module):
    """``EmbeddingBag(mode="sum", padding_idx=0)`` as a gather and a masked sum: the ONNX exporter
    has no EmbeddingBag with a padding index. Same weights, same result."""

    def __init__(self, bag: nn.EmbeddingBag) -> None:
        super().__init__()
        self.weight = bag.weight
        self.padding_idx = bag.padding_idx

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        vectors = nn.functional.embedding(ids, self.weight)
        keep = (ids != self.padding_idx).unsqueeze(-1).to(vectors.dtype)
        return (vectors * keep).sum(-2)


def exportable(model: nn.Module) -> nn.Module:
    """The model as ONNX can take it: a shallow copy (weights shared, the served model untouched)
    whose lexical EmbeddingBag, if any, is a ``SumOfEmbeddings``."""
    if getattr(model, "lexical", None) is None:
        return model
    clone = copy.copy(model)
    clone._modules = dict(model._modules)  # copy.copy shares this dict; the swap must not reach `model`
    clone.lexical = SumOfEmbeddings(model.lexical)
    return clone


def model_inputs(model: nn.Module) -> tuple[str, ...]:
    """The graph's inputs: the hashed lexical features only when the checkpoint's tagger uses them."""
    return BASE_INPUTS + (("lexical",) if getattr(model, "lexical", None) is not None else ())


def export_onnx(model: nn.Module, path: str | Path, opset: int = 17) -> Path:
    """TorchScript-based export (``dynamo=False``): it needs no extra package and handles the
    data-dependent ``gather`` of word starts; batch, sub-word and word axes are dynamic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = model_inputs(model)
    sample = (
        torch.tensor([[0, 5, 6, 7, 2], [0, 5, 6, 2, 1]]),
        torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]),
        torch.tensor([[1, 2, 3], [1, 2, 0]]),
        torch.tensor([[2, 3, 4], [2, 3, 0]]),
    )
    if "lexical" in inputs:
        sample += (torch.randint(1, 1000, (2, 3, FEATURES_PER_WORD)),)
    axes = {
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "tokens"},
        "word_starts": {0: "batch", 1: "words"},
        "shapes": {0: "batch", 1: "words"},
        "lexical": {0: "batch", 1: "words"},
        "words": {0: "batch", 1: "words"},
        "tag_logits": {0: "batch", 1: "words"},
    }
    tmp = path.with_name(path.name + ".part")
    # The tracer warns about every Python-level shape check in the Hugging Face code; the dynamic
    # axes are checked instead by comparing outputs with torch (tests, bench).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            EncoderTagger(exportable(model)).eval(),
            sample,
            str(tmp),
            input_names=list(inputs),
            output_names=list(OUTPUTS),
            dynamic_axes={k: v for k, v in axes.items() if k in inputs or k in OUTPUTS},
            opset_version=opset,
            dynamo=False,
        )
    tmp.replace(path)  # a crash mid-export must not leave a file that looks finished
    return path


def quantize_int8(fp32_path: str | Path, int8_path: str | Path) -> Path:
    """Dynamic int8: weights of MatMul/Gemm quantised ahead of time, activations at run time.
    No calibration data needed, which suits a CPU service whose inputs vary."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path = Path(int8_path)
    tmp = int8_path.with_name(int8_path.name + ".part")
    quantize_dynamic(str(fp32_path), str(tmp), weight_type=QuantType.QInt8)
    tmp.replace(int8_path)
    return int8_path


def make_session(path: str | Path, threads: int = 0):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class EncoderInOnnx(nn.Module):
    """Stands in for the torch encoder once ONNX Runtime runs it, so its weights (most of the
    model) leave memory; the heads (relation MLP, CRF) stay in torch and need only ``config``."""

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config

    def forward(self, *args, **kwargs):
        raise RuntimeError("this predictor runs its encoder in ONNX Runtime")


class OnnxPredictor(Predictor):
    """A ``Predictor`` whose encoder + tagger forward runs in ONNX Runtime."""

    def __init__(self, model, tokenizer, settings, session, runtime: str) -> None:
        model.encoder = EncoderInOnnx(model.encoder.config)
        super().__init__(model, tokenizer, settings, "cpu")
        self.session = session
        self.runtime = runtime

    @classmethod
    def from_checkpoint(cls, path: str | Path, onnx_dir: str | Path, quantized: bool = False) -> OnnxPredictor:
        model, tokenizer, settings = load_checkpoint(path, "cpu")
        onnx_dir = Path(onnx_dir)
        fp32 = onnx_dir / FP32_FILE
        if not fp32.exists():
            log.info("exporting %s to %s", path, fp32)
            export_onnx(model, fp32)
        target = fp32
        if quantized:
            target = onnx_dir / INT8_FILE
            if not target.exists():
                quantize_int8(fp32, target)
        runtime = "onnx-int8" if quantized else "onnx"
        return cls(model, tokenizer, settings, make_session(target), runtime)

    def _forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        feed = {i.name: batch[i.name].numpy() for i in self.session.get_inputs()}
        words, logits = self.session.run(list(OUTPUTS), feed)
        return torch.from_numpy(words), torch.from_numpy(logits)


def onnx_file_size_mb(path: str | Path) -> float:
    return round(os.path.getsize(path) / 2**20, 1)
