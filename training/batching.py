"""Padding sentence windows into tensors; shared by training and inference."""

from __future__ import annotations

import torch


def collate(examples: list[dict], pad_id: int) -> dict:
    n = len(examples)
    max_tokens = max(len(e["input_ids"]) for e in examples)
    max_words = max(max(len(e["word_starts"]), 1) for e in examples)
    input_ids = torch.full((n, max_tokens), pad_id, dtype=torch.long)
    attention = torch.zeros((n, max_tokens), dtype=torch.long)
    starts = torch.zeros((n, max_words), dtype=torch.long)
    shapes = torch.zeros((n, max_words), dtype=torch.long)
    word_mask = torch.zeros((n, max_words), dtype=torch.bool)
    n_lexical = max((len(e["lexical"][0]) for e in examples if e.get("lexical")), default=1)
    lexical = torch.zeros((n, max_words, n_lexical), dtype=torch.long)
    tags = torch.full((n, max_words), -100, dtype=torch.long)
    for i, e in enumerate(examples):
        ids, ws = e["input_ids"], e["word_starts"]
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        if ws:
            starts[i, : len(ws)] = torch.tensor(ws)
            shapes[i, : len(ws)] = torch.tensor(e["shapes"])
            word_mask[i, : len(ws)] = True
            if e.get("lexical"):
                lexical[i, : len(ws)] = torch.tensor(e["lexical"])
        if "tags" in e and ws:
            tags[i, : len(ws)] = torch.tensor(e["tags"])
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention,
        "word_starts": starts,
        "word_mask": word_mask,
        "shapes": shapes,
        "lexical": lexical,
    }
    if all("tags" in e for e in examples):
        batch["tags"] = tags
        batch["entities"] = [[(x["start"], x["end"], x["type"]) for x in e["entities"]] for e in examples]
        batch["relations"] = [[(x["head"], x["tail"], x["type"]) for x in e["relations"]] for e in examples]
    return batch
