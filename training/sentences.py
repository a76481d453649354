"""Sentence boundaries as the annotation scheme defines them (relations never cross one)."""

from __future__ import annotations

import bisect
import re

# A period after these does not end a sentence ("TP. Cần Thơ", "TS. Nguyễn ...").
ABBREVIATIONS = ("TP", "Tp", "TS", "ThS", "PGS", "GS", "BS", "KS")

_END = re.compile(r"[.!?…]+(?=\s)|\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences, stripped of surrounding whitespace; empty ones dropped."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(text):
        if match.group() == "." and _after_abbreviation(text, match.start()):
            continue
        _append_stripped(text, start, match.end(), spans)
        start = match.end()
    _append_stripped(text, start, len(text), spans)
    return spans


def _after_abbreviation(text: str, dot: int) -> bool:
    word_start = dot
    while word_start > 0 and text[word_start - 1].isalpha():
        word_start -= 1
    return text[word_start:dot] in ABBREVIATIONS


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


class SentenceIndex:
    """Maps a character offset to the sentence that holds it."""

    def __init__(self, text: str) -> None:
        self.spans = sentence_spans(text)
        self._starts = [s for s, _ in self.spans]

    def sentence_of(self, offset: int) -> int:
        return max(bisect.bisect_right(self._starts, offset) - 1, 0)

    def same_sentence(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        return self.sentence_of(a[0]) == self.sentence_of(b[0])
