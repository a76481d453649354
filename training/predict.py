"""Text in, entities and relations with character offsets and scores out.

``Predictor`` is the model component: ``predict`` turns texts or documents into predicted
documents; ``score`` compares predictions with gold documents. Segmentation, batching by length,
window merging and decoding all live here so every front end (API, batch job, server) shares them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch

from training.batching import collate
from training.checkpoint import Settings, load_checkpoint
from training.documents import Document, Entity, Relation
from training.features import (
    AlignmentReport,
    SentenceWords,
    WordEncoder,
    document_sentences,
    entity_word_spans,
)
from training.lexical import lexical_features, word_shape
from training.model import JointModel
from training.schema import RELATION_LABELS
from training.segment import get_segmenter


@dataclass
class Window:
    doc: int
    sentence: int
    offset: int  # first word of the window within its sentence
    forms: list[str]


def bio_to_spans(labels: list[str]) -> list[tuple[int, int, str]]:
    """(first word, end word, type); a stray I- starts a new entity rather than being dropped."""
    spans, start, kind = [], None, None
    for i, label in enumerate(labels + ["O"]):
        prefix, _, name = label.partition("-")
        if start is not None and (prefix != "I" or name != kind):
            spans.append((start, i, kind))
            start, kind = None, None
        if prefix == "B" or (prefix == "I" and start is None):
            start, kind = i, name
    return spans


# An office belongs to one body and a figure to one subject (the scheme's "each title gets its own
# TITLE_OF"); a person may hold several titles and a document may have joint issuers.
SINGLE_TAIL = ("TITLE_OF", "METRIC_OF")


def _one_tail_per_head(best: dict[tuple[int, int], tuple[float, str]]) -> dict[tuple[int, int], tuple[float, str]]:
    kept: dict[tuple[int, int], tuple[float, str]] = {}
    strongest: dict[tuple[int, str], tuple[float, tuple[int, int]]] = {}
    for pair, (score, label) in best.items():
        if label not in SINGLE_TAIL:
            kept[pair] = (score, label)
            continue
        key = (pair[0], label)
        if key not in strongest or score > strongest[key][0]:
            strongest[key] = (score, pair)
    for (_, label), (score, pair) in strongest.items():
        kept[pair] = (score, label)
    return kept


class Predictor:
    def __init__(self, model: JointModel, tokenizer, settings: Settings, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = device
        self.segmenter = get_segmenter(settings.segmenter)
        self.encoder = WordEncoder(tokenizer, settings.max_length)
        self.labels = settings.head.bio_labels
        self.types = settings.head.entity_types

    @classmethod
    def from_pretrained(cls, path: str, device: str = "cpu") -> Predictor:
        model, tokenizer, settings = load_checkpoint(path, device)
        return cls(model, tokenizer, settings, device)

    def segment(self, texts: list[str]) -> list[list[SentenceWords]]:
        return [document_sentences(text, self.segmenter) for text in texts]

    def predict(
        self,
        inputs: list[str | Document],
        batch_size: int = 16,
        sentences: list[list[SentenceWords]] | None = None,
        gold_entities: bool = False,
    ) -> list[Document]:
        """Predicted documents; with ``gold_entities`` the input's entities are kept and only relations predicted."""
        docs = [d if isinstance(d, Document) else Document(f"doc-{i}", d) for i, d in enumerate(inputs)]
        sentences = sentences if sentences is not None else self.segment([d.text for d in docs])
        windows = [
            Window(d, s, start, [w.form for w in sent.words[start:end]])
            for d, doc_sents in enumerate(sentences)
            for s, sent in enumerate(doc_sents)
            for start, end in self.encoder.windows([w.form for w in sent.words])
        ]
        outputs = self._run_windows(windows, batch_size)
        by_sentence: dict[tuple[int, int], list] = defaultdict(list)
        for window, out in zip(windows, outputs):
            by_sentence[(window.doc, window.sentence)].append((window, out))
        results = []
        for d, doc in enumerate(docs):
            entities: list[Entity] = []
            relations: list[Relation] = []
            for s, sent in enumerate(sentences[d]):
                mine = by_sentence[(d, s)]
                if gold_entities:
                    spans, ents = self._gold_spans(doc, sent)
                    entities.extend(ents)
                else:
                    spans, ents = self._decode_entities(doc, sent, mine, len(entities))
                    entities.extend(ents)
                self._relations(mine, spans, ents, relations)
            results.append(Document(doc.id, doc.text, entities, relations, dict(doc.meta)))
        return results

    def _gold_spans(self, doc: Document, sent: SentenceWords) -> tuple[list, list[Entity]]:
        spans, index = entity_word_spans(doc, sent, AlignmentReport())
        by_index = {i: doc.entity(eid) for eid, i in index.items()}
        return [(s, e, self.types[t]) for s, e, t in spans], [by_index[i] for i in range(len(spans))]

    @torch.no_grad()
    def _run_windows(self, windows: list[Window], batch_size: int) -> list[dict]:
        outputs: list[dict] = [{} for _ in windows]
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].forms))
        for begin in range(0, len(order), batch_size):
            chunk = order[begin : begin + batch_size]
            batch = self._collate([windows[i] for i in chunk])
            words, logits = self._forward(batch)
            paths, probs = self.model.decode_tags(logits, batch["word_mask"])
            for row, i in enumerate(chunk):
                n = len(windows[i].forms)
                outputs[i] = {"tags": paths[row][:n], "probs": probs[row, :n].cpu(), "words": words[row, :n]}
        return outputs

    def _collate(self, windows: list[Window]) -> dict:
        """Sub-word ids and word positions of a batch of windows, padded into tensors."""
        examples = []
        for window in windows:
            ids, starts = self.encoder.encode(window.forms)
            examples.append(
                {
                    "input_ids": ids,
                    "word_starts": starts,
                    "shapes": [word_shape(f) for f in window.forms],
                    "lexical": lexical_features(window.forms, self.settings.head.lexical_buckets),
                }
            )
        return {k: v.to(self.device) for k, v in collate(examples, self.tokenizer.pad_token_id).items()}

    def _forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Word vectors and tag logits; the one step an alternative runtime (ONNX) replaces."""
        words = self.model.word_vectors(
            batch["input_ids"], batch["attention_mask"], batch["word_starts"], batch["shapes"], batch["lexical"]
        )
        return words, self.model.tag_logits(words)

    def _decode_entities(
        self, doc: Document, sent: SentenceWords, mine: list, first_id: int
    ) -> tuple[list, list[Entity]]:
        n_words = len(sent.words)
        best_tag = [0] * n_words
        best_prob = [1.0] * n_words
        centrality = [-1.0] * n_words
        for window, out in mine:
            size = len(window.forms)
            for j in range(size):
                # Prefer the window in which the word sits furthest from an edge.
                central = min(j, size - 1 - j)
                k = window.offset + j
                if central > centrality[k]:
                    centrality[k] = central
                    best_tag[k] = out["tags"][j]
                    best_prob[k] = float(out["probs"][j, out["tags"][j]])
        spans = bio_to_spans([self.labels[t] for t in best_tag])
        entities = []
        for start, end, kind in spans:
            char_start, char_end = sent.words[start].start, sent.words[end - 1].end
            score = sum(best_prob[start:end]) / (end - start)
            ent_id = f"T{first_id + len(entities) + 1}"
            entities.append(Entity(ent_id, kind, char_start, char_end, doc.text[char_start:char_end], round(score, 4)))
        return spans, entities

    @torch.no_grad()
    def _relations(self, mine: list, spans: list, sent_entities: list[Entity], relations: list) -> None:
        best: dict[tuple[int, int], tuple[float, str]] = {}
        type_ids = {t: i for i, t in enumerate(self.types)}
        for window, out in mine:
            lo, hi = window.offset, window.offset + len(window.forms)
            inside = [i for i, (s, e, _) in enumerate(spans) if lo <= s and e <= hi]
            if len(inside) < 2:
                continue
            local = [(spans[i][0] - lo, spans[i][1] - lo, type_ids[spans[i][2]]) for i in inside]
            logits, pairs = self.model.pair_logits(out["words"].unsqueeze(0), [local])
            if not pairs:
                continue
            probs = logits.softmax(-1)
            for (_, h, t), p in zip(pairs, probs):
                label = int(p.argmax())
                if label == 0:
                    continue
                key = (inside[h], inside[t])
                score = float(p[label])
                if key not in best or score > best[key][0]:
                    best[key] = (score, RELATION_LABELS[label])
        for (h, t), (score, label) in sorted(_one_tail_per_head(best).items()):
            relations.append(
                Relation(
                    label, sent_entities[h].id, sent_entities[t].id, id=f"R{len(relations) + 1}", score=round(score, 4)
                )
            )
