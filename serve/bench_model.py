"""A randomly initialised checkpoint at phobert-base size, for timing (never for accuracy).

RoBERTa with hidden 768, 12 layers, 12 heads, 3072 intermediate, PhoBERT's real 64k vocabulary:
the compute and memory of ``vinai/phobert-base`` without its weights (none exist on these machines).
With random weights the tagger would label most words as entities, and the relation head, which
scores every pair of entities in a window, would then cost what it never costs on a trained
model. So the tagger's "O" bias is raised until about ``entity_share`` of the words fall in
entities, roughly what the annotated corpus shows; decoding then does realistic work.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, RobertaConfig

from training.checkpoint import Settings, save_checkpoint
from training.config import load_config
from training.model import HeadConfig, JointModel
from training.predict import Predictor, Window

PHOBERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
VERSION = "bench-phobert-base-random-2"  # bump when the recipe changes: serve.bench rebuilds its cache
PHOBERT_CONFIG = Path(__file__).resolve().parent.parent / "training" / "configs" / "phobert-base.yaml"


def build_random_checkpoint(
    out_dir: str | Path,
    tokenizer_dir: str | Path,
    calibration_texts: list[str],
    entity_share: float = 0.15,
    max_length: int = 256,
    seed: int = 0,
) -> Path:
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_length + 2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        type_vocab_size=1,
        **PHOBERT_BASE,
    )
    # The heads as the phobert-base config trains them (lexical features, CRF or not), so the
    # timed model does what a fine-tuned one does after the encoder.
    recipe = load_config(PHOBERT_CONFIG).model
    head = HeadConfig(shape_dim=recipe.shape_dim, lexical_dim=recipe.lexical_dim, dropout=0.0, use_crf=recipe.use_crf)
    model = JointModel(AutoModel.from_config(config, add_pooling_layer=False), head).eval()
    settings = Settings(
        segmenter="rdrsegmenter",
        max_length=max_length,
        model_version=VERSION,
        base_model="random (phobert-base architecture and vocabulary)",
        base_model_license="n/a: benchmark only",
        head=model.head_config,
    )
    _calibrate_tagger(Predictor(model, tokenizer, settings), calibration_texts, entity_share)
    return save_checkpoint(out_dir, model, tokenizer, settings)


@torch.no_grad()
def _calibrate_tagger(predictor: Predictor, texts: list[str], share: float) -> None:
    windows = [
        Window(d, s, start, [w.form for w in sentence.words[start:end]])
        for d, sentences in enumerate(predictor.segment(texts))
        for s, sentence in enumerate(sentences[:8])
        for start, end in predictor.encoder.windows([w.form for w in sentence.words])
    ]
    batch = predictor._collate(windows[:32])
    _, logits = predictor._forward(batch)
    logits = logits[batch["word_mask"]]
    margin = logits[:, 1:].max(-1).values - logits[:, 0]  # how far the best entity tag beats "O"
    predictor.model.tagger.bias[0] += torch.quantile(margin, 1.0 - share)
