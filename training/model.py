"""Joint entity tagger and relation classifier on top of any RoBERTa-family encoder.

Words are represented by their first sub-word (plus a small word-shape embedding, which lets an
encoder trained from scratch see capitalisation and digits at once). Entities come from BIO tags,
optionally through a CRF. The relation head scores every ordered pair of entities in a window whose
types one of the four relations allows, over NONE + the relation labels, with disallowed labels
masked; it is trained on gold entities and applied to predicted ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from training.crf import CRF
from training.lexical import SHAPE_VOCAB
from training.schema import ARGUMENT_PAIRS, BIO_LABELS, ENTITY_TYPES, RELATION_LABELS

DISTANCE_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


@dataclass
class HeadConfig:
    shape_dim: int = 32
    type_dim: int = 32
    relation_hidden: int = 256
    dropout: float = 0.1
    use_crf: bool = False
    lexical_dim: int = 0  # 0: no hashed lexical features
    lexical_buckets: int = 1 << 17
    bio_labels: list[str] = field(default_factory=lambda: list(BIO_LABELS))
    entity_types: list[str] = field(default_factory=lambda: list(ENTITY_TYPES))
    relation_labels: list[str] = field(default_factory=lambda: list(RELATION_LABELS))

    def to_dict(self) -> dict:
        return asdict(self)


def _bucket(distance: int) -> int:
    sign = 0 if distance >= 0 else len(DISTANCE_BUCKETS) + 1
    magnitude = abs(distance)
    for i, edge in enumerate(DISTANCE_BUCKETS):
        if magnitude <= edge:
            return sign + i
    return sign + len(DISTANCE_BUCKETS)


def relation_mask_table() -> torch.Tensor:
    """[head type, tail type, relation label] → allowed; NONE is always allowed."""
    n_types = len(ENTITY_TYPES)
    table = torch.zeros(n_types, n_types, len(RELATION_LABELS), dtype=torch.bool)
    table[:, :, 0] = True
    for (head, tail), rel in ARGUMENT_PAIRS.items():
        table[ENTITY_TYPES.index(head), ENTITY_TYPES.index(tail), RELATION_LABELS.index(rel)] = True
    return table


class JointModel(nn.Module):
    def __init__(self, encoder: nn.Module, head: HeadConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.head_config = head
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(head.dropout)
        self.shape_embedding = nn.Embedding(SHAPE_VOCAB, head.shape_dim)
        self.lexical = (
            nn.EmbeddingBag(head.lexical_buckets, head.lexical_dim, mode="sum", padding_idx=0)
            if head.lexical_dim
            else None
        )
        word_dim = hidden + head.shape_dim + head.lexical_dim
        self.tagger = nn.Linear(word_dim, len(head.bio_labels))
        self.crf = CRF(len(head.bio_labels)) if head.use_crf else None
        self.type_embedding = nn.Embedding(len(head.entity_types), head.type_dim)
        self.distance_embedding = nn.Embedding(2 * len(DISTANCE_BUCKETS) + 2, head.type_dim)
        self.between_embedding = nn.Embedding(8, head.type_dim)
        span_dim = 2 * word_dim + head.type_dim
        self.relation_mlp = nn.Sequential(
            nn.Linear(2 * span_dim + 2 * head.type_dim, head.relation_hidden),
            nn.GELU(),
            nn.Dropout(head.dropout),
            nn.Linear(head.relation_hidden, len(head.relation_labels)),
        )
        self.register_buffer("allowed", relation_mask_table(), persistent=False)

    def word_vectors(self, input_ids, attention_mask, word_starts, shapes, lexical=None) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        index = word_starts.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        parts = [torch.gather(hidden, 1, index), self.shape_embedding(shapes)]
        if self.lexical is not None:
            batch, words, n_features = lexical.shape
            parts.append(self.lexical(lexical.reshape(batch * words, n_features)).reshape(batch, words, -1))
        return self.dropout(torch.cat(parts, dim=-1))

    def tag_logits(self, words: torch.Tensor) -> torch.Tensor:
        return self.tagger(words)

    def tag_loss(self, logits, tags, word_mask) -> torch.Tensor:
        if self.crf is not None:
            return self.crf.neg_log_likelihood(logits, tags.clamp(min=0), word_mask)
        return nn.functional.cross_entropy(logits[word_mask], tags[word_mask])

    def decode_tags(self, logits, word_mask) -> tuple[list[list[int]], torch.Tensor]:
        probs = logits.softmax(-1)
        if self.crf is not None:
            paths = self.crf.decode(logits, word_mask)
        else:
            best = logits.argmax(-1)
            paths = [best[i][word_mask[i]].tolist() for i in range(best.size(0))]
        return paths, probs

    def pair_logits(self, words: torch.Tensor, batch_entities: list[list[tuple[int, int, int]]]):
        """Logits for every allowed ordered pair; returns (logits [P, L], pair index [(b, h, t)])."""
        feats, pairs, type_pairs = [], [], []
        for b, entities in enumerate(batch_entities):
            if len(entities) < 2:
                continue
            spans = []
            for start, end, type_id in entities:
                type_vec = self.type_embedding.weight[type_id]
                spans.append(torch.cat([words[b, start], words[b, end - 1], type_vec]))
            for h, (hs, he, ht) in enumerate(entities):
                for t, (ts, te, tt) in enumerate(entities):
                    if h == t or not self.allowed[ht, tt, 1:].any():
                        continue
                    lo, hi = min(he, te), max(hs, ts)
                    between = sum(1 for s, e, _ in entities if s >= lo and e <= hi)
                    extra = torch.cat(
                        [
                            self.distance_embedding.weight[_bucket(ts - hs)],
                            self.between_embedding.weight[min(between, 7)],
                        ]
                    )
                    feats.append(torch.cat([spans[h], spans[t], extra]))
                    pairs.append((b, h, t))
                    type_pairs.append((ht, tt))
        if not feats:
            return words.new_zeros(0, len(RELATION_LABELS)), []
        logits = self.relation_mlp(torch.stack(feats))
        types = torch.tensor(type_pairs, device=logits.device)
        mask = self.allowed[types[:, 0], types[:, 1]]
        return logits.masked_fill(~mask, -1e4), pairs

    def forward(
        self,
        input_ids,
        attention_mask,
        word_starts,
        word_mask,
        shapes,
        lexical=None,
        tags=None,
        entities=None,
        relations=None,
    ):
        words = self.word_vectors(input_ids, attention_mask, word_starts, shapes, lexical)
        logits = self.tag_logits(words)
        out = {"tag_logits": logits}
        if tags is None:
            return out
        loss = self.tag_loss(logits, tags, word_mask)
        if entities is not None:
            rel_logits, pairs = self.pair_logits(words, entities)
            if pairs:
                gold = {(b, h, t): r + 1 for b, rels in enumerate(relations) for h, t, r in rels}
                target = torch.tensor([gold.get(p, 0) for p in pairs], device=rel_logits.device)
                loss = loss + nn.functional.cross_entropy(rel_logits, target)
        out["loss"] = loss
        return out
