"""Word segmentation as PhoBERT was pre-trained, with every word mapped back to original offsets.

Text is first split into tokens by our own scanner (so offsets are known), 'Ð'/'ð' are folded to
'Đ'/'đ' (one character for one), and the segmenter only decides which neighbouring syllables form
one word. Its output may rewrite tone placement (ủy → uỷ, hóa → hoá): we keep its spelling as the
model input, because that is what PhoBERT saw, and take offsets from our own tokens.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

FOLD = str.maketrans({"Ð": "Đ", "ð": "đ"})
_JOINERS = set(".,-/'’")


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    form: str  # what the encoder's tokenizer receives, e.g. "Bí_thư"


def fold(text: str) -> str:
    return text.translate(FOLD)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch).startswith("M")


def pretokenize(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Syllable and punctuation tokens as (start, end); '1.234', '05-CT/TW', 'T.Ư' stay whole."""
    end = len(text) if end is None else end
    tokens = []
    i = start
    while i < end:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        j = i + 1
        if _is_word_char(ch):
            while j < end and (
                _is_word_char(text[j]) or (text[j] in _JOINERS and j + 1 < end and _is_word_char(text[j + 1]))
            ):
                j += 1
        tokens.append((i, j))
        i = j
    return tokens


class Segmenter(Protocol):
    name: str

    def join(self, tokens: list[str]) -> list[str]:
        """Segmented words, syllables joined by '_', covering ``tokens`` in order."""


class NoSegmenter:
    """Every token is its own word: for encoders not trained on segmented text, and quick tests."""

    name = "none"

    def join(self, tokens: list[str]) -> list[str]:
        return list(tokens)


class RDRSegmenter:
    """VnCoreNLP's RDRSegmenter (the one PhoBERT was pre-trained with), via pyjnius and Java."""

    name = "rdrsegmenter"

    def __init__(self) -> None:
        try:
            from python_rdrsegmenter import load_segmenter
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("rdrsegmenter needs `pip install -e .[segment]` and a Java runtime") from exc
        self._segment = load_segmenter().tokenize

    def join(self, tokens: list[str]) -> list[str]:
        return self._segment(" ".join(tokens)).split(" ") if tokens else []


class UnderthesesaSegmenter:
    """underthesea's word_tokenize: pure pip, no Java; close to but not identical with RDRSegmenter."""

    name = "underthesea"

    def __init__(self) -> None:
        from underthesea import word_tokenize

        self._tokenize = word_tokenize

    def join(self, tokens: list[str]) -> list[str]:
        """underthesea NFC-normalises and re-tokenises: give its grouping back in our tokens' spelling."""
        words, k, carry = [], 0, 0
        for output in self._tokenize(" ".join(tokens)):
            target = len(unicodedata.normalize("NFC", output.replace(" ", ""))) - carry
            group, covered = [], 0
            while k < len(tokens) and covered < target:
                covered += len(unicodedata.normalize("NFC", tokens[k]))
                group.append(tokens[k])
                k += 1
            carry = covered - target if group else carry - len(output)
            if group:
                words.append("_".join(group))
        return words + tokens[k:]


@lru_cache(maxsize=4)
def get_segmenter(name: str) -> Segmenter:
    factories = {"rdrsegmenter": RDRSegmenter, "underthesea": UnderthesesaSegmenter, "none": NoSegmenter}
    if name not in factories:
        raise ValueError(f"unknown segmenter {name!r}; choose one of {sorted(factories)}")
    return factories[name]()


def segment_span(text: str, segmenter: Segmenter, start: int = 0, end: int | None = None) -> list[Word]:
    """Words of ``text[start:end]`` with offsets into the original ``text``."""
    spans = pretokenize(text, start, end)
    folded = fold(text)
    pieces = [folded[s:e] for s, e in spans]
    return align_words(spans, pieces, segmenter.join(pieces))


def _syllable_chars(form: str) -> int:
    """Characters of a segmented word without the '_'/' ' that join its syllables."""
    if not form.strip("_ "):
        return len(form)  # the word is itself an underscore
    return sum(len(part) for part in form.replace("_", " ").split(" "))


def _split_by_lengths(form: str, lengths: list[int]) -> list[str]:
    out, position = [], 0
    for length in lengths:
        out.append(form[position : position + length])
        position += length + 1
    return out


def _punctuation_apart(members: list[int], pieces: list[str]) -> list[list[int]]:
    """A punctuation token is always a word of its own (RDRSegmenter sometimes glues ',' to a name)."""
    runs: list[list[int]] = []
    for i in members:
        is_word = _is_word_char(pieces[i][0])
        if runs and is_word and _is_word_char(pieces[runs[-1][-1]][0]):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def align_words(spans: list[tuple[int, int]], pieces: list[str], joined: list[str]) -> list[Word]:
    """Group our tokens into the segmenter's words by character count, so spelling rewrites don't matter.

    A segmenter that re-tokenises (underthesea splits '05-CT/TW') may cut one of our tokens: the
    words that share a token are merged, since a token is the smallest unit we keep offsets for.
    """
    token_ends = []
    total = 0
    for piece in pieces:
        total += len(piece)
        token_ends.append(total)
    groups: list[list[int]] = []  # token indices per word
    forms: list[str] = []
    position, k = 0, 0
    for form in joined:
        length = _syllable_chars(form)
        if length == 0:
            continue
        position += length
        members = []
        while k < len(pieces) and token_ends[k] <= position:
            members.append(k)
            k += 1
        if members:
            groups.append(members)
            forms.append(form)
        elif groups or k < len(pieces):
            # The word ends inside token k: it joins the word that completes that token.
            forms.append(form)
            groups.append([])
    if position != total:
        raise ValueError(f"segmenter output covers {position} characters of {total}: {joined!r} vs {pieces!r}")
    words = []
    pending_forms: list[str] = []
    for members, form in zip(groups, forms):
        pending_forms.append(form)
        if not members:
            continue
        if len(pending_forms) == 1 and len(form) == sum(len(pieces[i]) for i in members) + len(members) - 1:
            syllables = _split_by_lengths(form, [len(pieces[i]) for i in members])
        else:  # the segmenter cut one of our tokens: fall back to our own spelling
            syllables = [pieces[i] for i in members]
        pending_forms = []
        for run in _punctuation_apart(members, pieces):
            text = unicodedata.normalize("NFC", "_".join(syllables[members.index(i)] for i in run))
            words.append(Word(spans[run[0]][0], spans[run[-1]][1], text))
    return words
