"""A compact authoring format for annotated articles, compiled to documents with checked offsets.

One article per ``.ann`` file::

    id: inv-camau-001
    source: invented
    ---
    Đồng chí [[Nguyễn Văn An|PER p1]], [[Bí thư|TITLE t1]] [[Tỉnh ủy Cà Mau|ORG o1]] ...
    ---
    p1 HAS_TITLE t1
    t1 TITLE_OF o1

The header (``key: value`` lines) ends at the first ``---``; the body runs to the next line that is
exactly ``---``; each later non-blank line is one relation ``HEAD_ID RELATION TAIL_ID`` (``#`` starts
a comment). An entity is ``[[surface text|TYPE id]]``: TYPE is one of the scheme's types or its short
code (PER, TIT, ORG, RES, MET); the id is needed only by entities that take part in a relation.
The markup is removed and offsets are computed on the remaining text, so they are right by
construction; ``validate`` then checks every span and relation against the scheme.

Existing text (real articles such as the seeds) is not retyped: ``mark_in_order`` inserts the markup
into the original text from a list of surfaces in reading order, and the command line compiles a
spans file into a whole article::

    python3 -m training.authoring mark TEXT_FILE SPANS_FILE ID [--source seed] > out.ann

A spans file has one span per line, ``TYPE<TAB>surface[<TAB>id]``, in reading order (blank lines
and lines starting with ``#`` are skipped; TYPE ``SKIP`` steps over an occurrence left bare), then a
line ``---``, then the relation lines as above.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from training.documents import Document, Entity, Relation
from training.schema import RELATION_TYPES, TYPE_ALIASES

_SPAN = re.compile(r"\[\[([^\[\]|]+)\|([A-Za-z_]+)(?:\s+([\w.-]+))?\]\]")


class AuthoringError(ValueError):
    """A malformed article; the message names the file and line."""


def parse_article(source: str, name: str = "<article>") -> Document:
    lines = source.split("\n")
    try:
        header_end = lines.index("---")
        body_end = lines.index("---", header_end + 1)
    except ValueError:
        raise AuthoringError(f"{name}: needs a header, '---', the body, '---' and relations") from None
    meta = {}
    for line_no, line in enumerate(lines[:header_end], 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise AuthoringError(f"{name}:{line_no}: header line is not 'key: value': {line!r}")
        meta[key.strip()] = value.strip()
    doc_id = meta.pop("id", None) or Path(name).stem
    text, entities = _parse_body(lines[header_end + 1 : body_end], header_end + 2, name)
    relations = _parse_relations(lines[body_end + 1 :], body_end + 2, name, entities)
    return Document(doc_id, text, entities, relations, meta)


def _parse_body(lines: list[str], first_line_no: int, name: str) -> tuple[str, list[Entity]]:
    pieces: list[str] = []
    entities: list[Entity] = []
    seen_ids: set[str] = set()
    offset = 0
    for line_index, line in enumerate(lines):
        line_no = first_line_no + line_index
        if line_index:
            pieces.append("\n")
            offset += 1
        cursor = 0
        for match in _SPAN.finditer(line):
            plain = line[cursor : match.start()]
            _reject_stray_markup(plain, name, line_no)
            pieces.append(plain)
            offset += len(plain)
            surface, type_code, ent_id = match.groups()
            ent_type = TYPE_ALIASES.get(type_code.upper())
            if ent_type is None:
                raise AuthoringError(f"{name}:{line_no}: unknown entity type {type_code!r} on {surface!r}")
            ent_id = ent_id or f"_e{len(entities) + 1}"
            if ent_id in seen_ids:
                raise AuthoringError(f"{name}:{line_no}: entity id {ent_id!r} used twice")
            seen_ids.add(ent_id)
            entities.append(Entity(ent_id, ent_type, offset, offset + len(surface), surface))
            pieces.append(surface)
            offset += len(surface)
            cursor = match.end()
        rest = line[cursor:]
        _reject_stray_markup(rest, name, line_no)
        pieces.append(rest)
        offset += len(rest)
    return "".join(pieces).strip("\n"), _shift_for_leading_newlines(pieces, entities)


def _shift_for_leading_newlines(pieces: list[str], entities: list[Entity]) -> list[Entity]:
    lead = len("".join(pieces)) - len("".join(pieces).lstrip("\n"))
    if not lead:
        return entities
    return [Entity(e.id, e.type, e.start - lead, e.end - lead, e.text) for e in entities]


def _reject_stray_markup(plain: str, name: str, line_no: int) -> None:
    if "[[" in plain or "]]" in plain:
        raise AuthoringError(f"{name}:{line_no}: unbalanced or malformed [[...|TYPE id]] near {plain!r}")


def _parse_relations(lines: list[str], first_line_no: int, name: str, entities: list[Entity]) -> list[Relation]:
    ids = {e.id for e in entities}
    relations = []
    for index, raw in enumerate(lines):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line_no = first_line_no + index
        parts = line.split()
        if len(parts) != 3 or parts[1] not in RELATION_TYPES:
            raise AuthoringError(f"{name}:{line_no}: relation must be 'HEAD {'|'.join(RELATION_TYPES)} TAIL': {raw!r}")
        head, rel_type, tail = parts
        for arg in (head, tail):
            if arg not in ids:
                raise AuthoringError(f"{name}:{line_no}: relation names unknown entity id {arg!r}")
        relations.append(Relation(rel_type, head, tail, id=f"r{len(relations) + 1}"))
    return relations


def read_articles(folder: str | Path) -> list[Document]:
    paths = sorted(Path(folder).rglob("*.ann"))
    docs = [parse_article(p.read_text(encoding="utf-8"), str(p)) for p in paths]
    seen: dict[str, str] = {}
    for path, doc in zip(paths, docs):
        if doc.id in seen:
            raise AuthoringError(f"{path}: document id {doc.id!r} already used by {seen[doc.id]}")
        seen[doc.id] = str(path)
    return docs


# 'Ð'/'ð' (U+00D0/U+00F0, Icelandic eth) stand in for 'Đ'/'đ' (U+0110/U+0111) on some news sites.
_FOLD = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})
_ID = re.compile(r"[\w.-]+")
SKIP = "SKIP"  # a spans-file TYPE that steps over one occurrence without marking it


def _fold(s: str) -> str:
    """Same length as ``s``, so offsets into the folded string are offsets into ``s``."""
    return s.translate(_FOLD)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def mark_in_order(text: str, spans: list[tuple[str, str, str | None]]) -> str:
    """Insert ``[[surface|TYPE id]]`` markup into ``text`` and return the marked-up body.

    ``spans`` lists ``(surface, TYPE, id or None)`` in reading order. Each surface is looked up as a
    whole-word match (no letter or digit directly before or after it) starting at the end of the
    previous span, so a repeated surface is taken at its next occurrence. TYPE ``SKIP`` marks
    nothing and only moves past that occurrence: it steps over a mention deliberately left bare
    ("Ban Thường vụ cấp ủy") that would otherwise be taken by the next span of the same surface.
    'Ð' and 'Đ' (and 'ð', 'đ') compare equal while searching, and the marked-up body keeps the
    text's own characters, so the body without its markup is exactly ``text``. Raises ``AuthoringError``
    naming the surface and where the search started when a surface is not found, and for input the
    ``.ann`` format cannot carry (unknown type, bad id, a surface with ``[``, ``]``, ``|`` or a line break, a text line
    that is exactly ``---``, or ``[[``/``]]`` in the text).
    """
    for line_no, line in enumerate(text.split("\n"), 1):
        if line == "---":
            raise AuthoringError(f"text line {line_no} is exactly '---', which would end the .ann body")
    if "[[" in text or "]]" in text:
        raise AuthoringError("text contains '[[' or ']]', which the .ann body cannot carry")
    folded = _fold(text)
    out: list[str] = []
    cursor = 0
    for index, (surface, type_code, ent_id) in enumerate(spans, 1):
        label = f"span {index} {surface!r} ({type_code})"
        if type_code.upper() not in TYPE_ALIASES and type_code != SKIP:
            raise AuthoringError(f"{label}: unknown entity type {type_code!r}")
        if not surface or surface != surface.strip() or any(c in surface for c in "[]|\n"):
            raise AuthoringError(f"{label}: a surface must be non-empty, unpadded, on one line, without [ ] |")
        if ent_id is not None and not _ID.fullmatch(ent_id):
            raise AuthoringError(f"{label}: id {ent_id!r} may hold only letters, digits, '_', '.', '-'")
        needle = _fold(surface)
        start = _find_word(folded, needle, cursor)
        if start < 0:
            raise AuthoringError(f"{label} not found {_where(text, cursor)}{_earlier_hint(folded, needle, cursor)}")
        end = start + len(surface)
        out.append(text[cursor:start])
        if type_code == SKIP:
            out.append(text[start:end])
        else:
            out.append(f"[[{text[start:end]}|{type_code}{' ' + ent_id if ent_id else ''}]]")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _find_word(haystack: str, needle: str, start: int) -> int:
    pos = haystack.find(needle, start)
    while pos >= 0:
        end = pos + len(needle)
        if not (pos > 0 and _is_word_char(haystack[pos - 1]) and _is_word_char(needle[0])) and not (
            end < len(haystack) and _is_word_char(haystack[end]) and _is_word_char(needle[-1])
        ):
            return pos
        pos = haystack.find(needle, pos + 1)
    return -1


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"after offset {offset} (line {line}, column {column}: {text[offset : offset + 40]!r}...)"


def _earlier_hint(folded: str, needle: str, cursor: int) -> str:
    earlier = _find_word(folded[:cursor], needle, 0)
    if earlier < 0:
        return "; it does not occur in the text at all"
    return f"; it does occur earlier, at offset {earlier}: spans must be listed in reading order"


def read_spans_file(source: str, name: str = "<spans>") -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """Parse a spans file into ``(surface, TYPE, id)`` tuples and the relation lines after ``---``."""
    spans: list[tuple[str, str, str | None]] = []
    lines = source.split("\n")
    for line_no, line in enumerate(lines, 1):
        if line.strip() == "---":
            return spans, lines[line_no:]
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
            raise AuthoringError(f"{name}:{line_no}: a span line is 'TYPE<TAB>surface[<TAB>id]': {line!r}")
        spans.append((fields[1], fields[0], fields[2] if len(fields) == 3 and fields[2] else None))
    return spans, []


def compile_marked(text: str, spans_source: str, doc_id: str, meta: dict[str, str], name: str = "<spans>") -> str:
    """A whole ``.ann`` article from plain text and a spans file; checked to parse back to ``text``."""
    spans, relation_lines = read_spans_file(spans_source, name)
    text = text.strip("\n")
    header = "".join(f"{key}: {value}\n" for key, value in {"id": doc_id, **meta}.items())
    relations = "\n".join(line for line in relation_lines if line.strip())
    article = f"{header}---\n{mark_in_order(text, spans)}\n---\n{relations}\n"
    doc = parse_article(article, name)
    if doc.text != text:
        raise AuthoringError(f"{name}: the compiled article does not give back the original text")
    return article


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m training.authoring")
    sub = parser.add_subparsers(dest="command", required=True)
    mark = sub.add_parser("mark", help="compile TEXT_FILE + SPANS_FILE into an .ann article on stdout")
    mark.add_argument("text_file")
    mark.add_argument("spans_file")
    mark.add_argument("doc_id", metavar="ID")
    mark.add_argument("--source", default="seed", help="value of the 'source:' header (default: seed)")
    args = parser.parse_args(argv)
    text = Path(args.text_file).read_text(encoding="utf-8")
    spans_source = Path(args.spans_file).read_text(encoding="utf-8")
    try:
        article = compile_marked(text, spans_source, args.doc_id, {"source": args.source}, args.spans_file)
    except AuthoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(article)
    return 0


if __name__ == "__main__":
    sys.exit(main())
