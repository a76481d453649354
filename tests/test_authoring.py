from __future__ import annotations

import pytest

from training.authoring import AuthoringError, parse_article


def test_markup_becomes_offsets():
    doc = parse_article("id: x\n---\nÔng [[Lê An|PER p]] là [[Bí thư|TIT t]].\n---\np HAS_TITLE t\n")
    assert doc.text == "Ông Lê An là Bí thư."
    assert [(e.type, doc.text[e.start : e.end]) for e in doc.entities] == [("PERSON", "Lê An"), ("TITLE", "Bí thư")]
    assert [(r.type, r.head, r.tail) for r in doc.relations] == [("HAS_TITLE", "p", "t")]


@pytest.mark.parametrize(
    "body,message",
    [
        ("[[Lê An|FOO]]\n---\n", "unknown entity type"),
        ("[[Lê An|PER a]] [[Bí thư|TIT a]]\n---\n", "used twice"),
        ("[[Lê An|PER a]\n---\n", "malformed"),
        ("[[Lê An|PER a]]\n---\na HAS_TITLE b\n", "unknown entity id 'b'"),
        ("[[Lê An|PER a]]\n---\na OWNS a\n", "relation must be"),
    ],
)
def test_errors_name_file_and_line(body, message):
    with pytest.raises(AuthoringError, match=message) as info:
        parse_article("id: x\n---\n" + body, "art.ann")
    assert str(info.value).startswith("art.ann:")
