"""Word segmentation in worker processes, so the model never waits for it.

The segmenter is Java (RDRSegmenter via pyjnius): a JVM cannot be shared across ``fork``, so the
workers are *spawned* and each starts its own JVM in ``_init``. This module imports no torch: a
spawned worker imports only what segmentation needs (the parent's ``__main__`` is re-imported in
each worker too, which is why ``serve.batch`` keeps its heavy imports inside functions).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from typing import Protocol

from training.features import SentenceWords, document_sentences
from training.segment import Segmenter, get_segmenter

_segmenter: Segmenter | None = None


def _init(name: str) -> None:
    global _segmenter
    _segmenter = get_segmenter(name)


def _segment(text: str) -> list[SentenceWords]:
    return document_sentences(text, _segmenter)


class Pending(Protocol):
    def get(self) -> list[list[SentenceWords]]: ...


class _Done:
    def __init__(self, value: list[list[SentenceWords]]) -> None:
        self.value = value

    def get(self) -> list[list[SentenceWords]]:
        return self.value


class SegmentPool:
    """``submit(texts)`` starts segmenting and returns at once; ``.get()`` on the result waits.
    With ``workers=0`` segmentation runs in the calling process at ``submit`` (no overlap)."""

    def __init__(self, segmenter: str, workers: int) -> None:
        self.name = segmenter
        self.workers = workers
        self._pool = None
        if workers > 0:
            self._pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_init, initargs=(segmenter,))

    def submit(self, texts: Sequence[str]) -> Pending:
        if self._pool is None:
            segmenter = get_segmenter(self.name)
            return _Done([document_sentences(t, segmenter) for t in texts])
        # One document per task keeps long and short documents spread over the workers.
        return self._pool.map_async(_segment, list(texts), chunksize=1)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> SegmentPool:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and self._pool is not None:
            self._pool.terminate()  # an error or Ctrl-C: don't wait for queued work
            self._pool = None
        self.close()
