"""Masked-LM pre-training on a small text sample: loss goes down, resumes, and feeds fine-tuning."""

from __future__ import annotations

import json

import torch

from training.pretrain import load_pretrain_config, pretrain, whole_word_mask


def _corpus(tmp_path, tiny_documents):
    path = tmp_path / "text.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for copy in range(6):
            for doc in tiny_documents:
                fh.write(json.dumps({"id": f"{doc.id}-{copy}", "text": doc.text}, ensure_ascii=False) + "\n")
    return path


def _config(tmp_path, steps):
    return load_pretrain_config(
        None,
        [
            "model.base_model=scratch",
            "model.hidden_size=32",
            "model.num_layers=1",
            "model.num_heads=2",
            "model.intermediate_size=64",
            "model.build_vocab_size=200",
            "pretrain.seq_len=32",
            "pretrain.batch_size=8",
            "pretrain.lr=0.005",
            f"pretrain.max_steps={steps}",
            "pretrain.eval_every=10",
            "pretrain.save_every=10",
            "pretrain.eval_fraction=0.2",
            "pretrain.workers=1",
            f"pretrain.cache_dir={tmp_path / 'cache'}",
        ],
    )


def test_loss_goes_down_resumes_and_output_fine_tunes(tmp_path, tiny_documents, tiny_corpus_dir):
    text = _corpus(tmp_path, tiny_documents)
    out = tmp_path / "encoder"
    first = pretrain(_config(tmp_path, 20), str(text), str(out))
    assert first["steps"] == 20
    second = pretrain(_config(tmp_path, 40), str(text), str(out))  # resumes at step 20
    steps = [h["step"] for h in second["history"]]
    assert steps == [0, 10, 20, 30, 40]
    losses = [h["held_out_loss"] for h in second["history"]]
    assert losses[-1] < losses[0] - 0.5

    from conftest import fit_on_folder

    from training.config import load_config
    from training.train import train

    config = load_config(
        None,
        [
            f"model.base_model={out}",
            *fit_on_folder(tiny_corpus_dir, tmp_path / "tagger"),
            "training.epochs=1",
        ],
    )
    summary = train(config)
    assert summary["history"][0]["epoch"] == 1
    assert (tmp_path / "tagger" / "model.safetensors").exists()


def test_whole_word_masking_masks_all_pieces_of_a_word():
    class Tok:
        pad_token_id, cls_token_id, sep_token_id, mask_token_id = 1, 0, 2, 99

        def __len__(self):
            return 100

    ids = torch.tensor([[0, 10, 11, 12, 13, 14, 2, 1]])
    starts = torch.tensor([[0, 1, 0, 1, 0, 0, 0, 0]], dtype=torch.uint8)
    for seed in range(20):
        _, labels = whole_word_mask(ids, starts, Tok(), 0.5, torch.Generator().manual_seed(seed))
        masked = (labels[0] != -100).tolist()
        assert masked[1] == masked[2] and masked[3] == masked[4] == masked[5]
        assert not masked[0] and not masked[6] and not masked[7]
