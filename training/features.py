"""Documents → sentence windows of sub-word ids with word-level BIO tags and relation triples.

PhoBERT's tokenizer is slow-only (no offsets, no word_ids()), so each segmented word is tokenised
on its own and its first sub-word stands for it. Sentences longer than the encoder's window are cut
into overlapping windows; predictions are merged back by word (see ``training.decode``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from training.documents import Document
from training.lexical import lexical_features, word_shape
from training.schema import BIO_LABELS, ENTITY_TYPES, RELATION_TYPES
from training.segment import Segmenter, Word, segment_span
from training.sentences import sentence_spans

TAG_ID = {t: i for i, t in enumerate(BIO_LABELS)}
TYPE_ID = {t: i for i, t in enumerate(ENTITY_TYPES)}
REL_ID = {t: i for i, t in enumerate(RELATION_TYPES)}


@dataclass
class SentenceWords:
    doc_id: str
    index: int
    start: int
    end: int
    words: list[Word]


@dataclass
class AlignmentReport:
    misaligned: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def document_sentences(doc: Document | str, segmenter: Segmenter, doc_id: str = "") -> list[SentenceWords]:
    text = doc.text if isinstance(doc, Document) else doc
    doc_id = doc.id if isinstance(doc, Document) else doc_id
    return [
        SentenceWords(doc_id, i, s, e, segment_span(text, segmenter, s, e))
        for i, (s, e) in enumerate(sentence_spans(text))
    ]


def entity_word_spans(
    doc: Document, sentence: SentenceWords, report: AlignmentReport
) -> tuple[list[tuple[int, int, int]], dict[str, int]]:
    """Entities of the sentence as (first word, last word + 1, type id), and entity id → index."""
    spans, index = [], {}
    words = sentence.words
    used = [False] * len(words)
    for ent in doc.entities:
        if not (sentence.start <= ent.start < sentence.end):
            continue
        covered = [i for i, w in enumerate(words) if w.start < ent.end and ent.start < w.end]
        if not covered:
            report.counts["entities_without_words"] += 1
            report.misaligned.append(f"{doc.id}: {ent.id} {ent.text!r} covers no word")
            continue
        first, last = covered[0], covered[-1]
        if words[first].start != ent.start or words[last].end != ent.end:
            report.counts["entities_off_word_boundaries"] += 1
            got = doc.text[words[first].start : words[last].end]
            report.misaligned.append(f"{doc.id}: {ent.id} {ent.type} {ent.text!r} → words give {got!r}")
        if any(used[first : last + 1]):
            report.counts["entities_sharing_a_word"] += 1
            report.misaligned.append(f"{doc.id}: {ent.id} {ent.text!r} shares a word with another entity; dropped")
            continue
        used[first : last + 1] = [True] * (last + 1 - first)
        index[ent.id] = len(spans)
        spans.append((first, last + 1, TYPE_ID[ent.type]))
        report.counts["entities"] += 1
    return spans, index


def bio_tags(n_words: int, spans: list[tuple[int, int, int]]) -> list[int]:
    tags = [TAG_ID["O"]] * n_words
    for first, end, type_id in spans:
        name = ENTITY_TYPES[type_id]
        tags[first] = TAG_ID[f"B-{name}"]
        for i in range(first + 1, end):
            tags[i] = TAG_ID[f"I-{name}"]
    return tags


class WordEncoder:
    """Sub-word ids per word form, cached: the same words recur across documents."""

    def __init__(self, tokenizer, max_length: int = 256) -> None:
        self.tokenizer = tokenizer
        self.max_subwords = max_length - 2
        self._ids = lru_cache(maxsize=200_000)(self._encode)

    def _encode(self, form: str) -> tuple[int, ...]:
        ids = self.tokenizer.convert_tokens_to_ids(self.tokenizer.tokenize(form))
        return tuple(ids) or (self.tokenizer.unk_token_id,)

    def ids(self, form: str) -> tuple[int, ...]:
        return self._ids(form)

    def windows(self, forms: list[str], stride: int | None = None) -> list[tuple[int, int]]:
        """Word ranges whose sub-words fit the encoder; consecutive ranges overlap by about half."""
        lengths = [min(len(self.ids(f)), self.max_subwords) for f in forms]
        if sum(lengths) <= self.max_subwords:
            return [(0, len(forms))]
        windows, start = [], 0
        while True:
            end, total = start, 0
            while end < len(forms) and total + lengths[end] <= self.max_subwords:
                total += lengths[end]
                end += 1
            windows.append((start, end))
            if end >= len(forms):
                return windows
            step = max(1, (end - start) // 2) if stride is None else stride
            start = start + step

    def encode(self, forms: list[str]) -> tuple[list[int], list[int]]:
        """input_ids with <s> … </s>, and the position of each word's first sub-word."""
        tok = self.tokenizer
        input_ids, starts = [tok.cls_token_id], []
        for form in forms:
            ids = self.ids(form)[: self.max_subwords]
            starts.append(len(input_ids))
            input_ids.extend(ids)
        input_ids.append(tok.sep_token_id)
        return input_ids, starts


def encode_document(
    doc: Document, segmenter: Segmenter, encoder: WordEncoder, report: AlignmentReport | None = None
) -> list[dict]:
    """Training examples, one per sentence window."""
    report = report if report is not None else AlignmentReport()
    examples = []
    for sentence in document_sentences(doc, segmenter):
        spans, index = entity_word_spans(doc, sentence, report)
        tags = bio_tags(len(sentence.words), spans)
        triples = []
        for rel in doc.relations:
            if rel.head in index and rel.tail in index:
                triples.append((index[rel.head], index[rel.tail], REL_ID[rel.type]))
        forms = [w.form for w in sentence.words]
        lexical = lexical_features(forms)
        for w_start, w_end in encoder.windows(forms):
            input_ids, starts = encoder.encode(forms[w_start:w_end])
            inside = [i for i, (s, e, _) in enumerate(spans) if w_start <= s and e <= w_end]
            remap = {old: new for new, old in enumerate(inside)}
            examples.append(
                {
                    "doc_id": doc.id,
                    "sentence": sentence.index,
                    "word_offset": w_start,
                    "input_ids": input_ids,
                    "word_starts": starts,
                    "shapes": [word_shape(f) for f in forms[w_start:w_end]],
                    "lexical": lexical[w_start:w_end],
                    "tags": tags[w_start:w_end],
                    "entities": [
                        {"start": spans[i][0] - w_start, "end": spans[i][1] - w_start, "type": spans[i][2]}
                        for i in inside
                    ],
                    "relations": [
                        {"head": remap[h], "tail": remap[t], "type": r}
                        for h, t, r in triples
                        if h in remap and t in remap
                    ],
                }
            )
    return examples
