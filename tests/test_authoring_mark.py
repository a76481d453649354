"""mark_in_order and the ``mark`` command: markup inserted into existing text, never retyped."""

from __future__ import annotations

import pytest

from training.authoring import AuthoringError, compile_marked, main, mark_in_order, parse_article

ETH = "\u00d0"  # 'Ð', LATIN CAPITAL LETTER ETH
D_BAR = "\u0110"  # 'Đ', LATIN CAPITAL LETTER D WITH STROKE


def _round_trip(text: str, marked: str) -> None:
    doc = parse_article(f"id: t\n---\n{marked}\n---\n")
    assert doc.text == text


def test_marks_in_order_and_keeps_text():
    text = "Ông Lê Văn Tư, Bí thư Huyện ủy, kết nạp 12 đảng viên."
    marked = mark_in_order(
        text,
        [
            ("Lê Văn Tư", "PER", "p1"),
            ("Bí thư", "TITLE", "t1"),
            ("Huyện ủy", "ORG", None),
            ("12 đảng viên", "MET", None),
        ],
    )
    assert marked == "Ông [[Lê Văn Tư|PER p1]], [[Bí thư|TITLE t1]] [[Huyện ủy|ORG]], kết nạp [[12 đảng viên|MET]]."
    _round_trip(text, marked)


def test_repeated_surface_takes_the_next_occurrence():
    text = "Huyện ủy họp. Sau đó Huyện ủy ra thông báo."
    marked = mark_in_order(text, [("Huyện ủy", "ORG", "o1"), ("Huyện ủy", "ORG", "o2")])
    assert marked == "[[Huyện ủy|ORG o1]] họp. Sau đó [[Huyện ủy|ORG o2]] ra thông báo."


def test_search_starts_after_the_previous_span():
    text = "Tỉnh ủy và Thành ủy; sau đó Tỉnh ủy."
    marked = mark_in_order(text, [("Thành ủy", "ORG", None), ("Tỉnh ủy", "ORG", None)])
    assert marked == "Tỉnh ủy và [[Thành ủy|ORG]]; sau đó [[Tỉnh ủy|ORG]]."


def test_eth_and_d_with_stroke_match_and_text_characters_are_kept():
    text = f"Ban Chấp hành Trung ương {ETH}ảng và Trung ương {D_BAR}ảng; {ETH.lower()}ồng chí."
    marked = mark_in_order(
        text,
        [(f"Ban Chấp hành Trung ương {D_BAR}ảng", "ORG", None), (f"Trung ương {ETH}ảng", "ORG", None)],
    )
    assert f"[[Ban Chấp hành Trung ương {ETH}ảng|ORG]]" in marked
    assert f"[[Trung ương {D_BAR}ảng|ORG]]" in marked
    _round_trip(text, marked)


def test_lower_case_eth_folds_too():
    text = f"{ETH.lower()}ảng viên"  # 'ð' in the text, 'đ' in the surface
    assert mark_in_order(text, [("đảng viên", "PER", None)]) == f"[[{ETH.lower()}ảng viên|PER]]"


def test_only_whole_words_match():
    text = "Trưởng ban Maiana và bà Mai."
    assert mark_in_order(text, [("Mai", "PER", None)]) == "Trưởng ban Maiana và bà [[Mai|PER]]."


def test_not_found_names_surface_and_position():
    text = "Dòng một.\nĐồng chí Hà Văn Bảy phát biểu."
    with pytest.raises(AuthoringError) as info:
        mark_in_order(text, [("Hà Văn Bảy", "PER", None), ("Phó Chủ tịch", "TITLE", None)])
    message = str(info.value)
    assert "span 2 'Phó Chủ tịch'" in message
    assert "offset 29" in message and "line 2, column 20" in message
    assert "does not occur" in message


def test_out_of_order_surface_is_reported_as_such():
    text = "Bí thư Tỉnh ủy gặp Chủ tịch UBND tỉnh."
    with pytest.raises(AuthoringError, match=r"'Bí thư'.*occur earlier, at offset 0.*reading order"):
        mark_in_order(text, [("Chủ tịch", "TITLE", None), ("Bí thư", "TITLE", None)])


@pytest.mark.parametrize(
    "span, problem",
    [
        (("Bí thư", "RANK", None), "unknown entity type"),
        ((" Bí thư", "TITLE", None), "unpadded"),
        (("Bí thư", "TITLE", "t 1"), "id 't 1'"),
        (("Bí|thư", "TITLE", None), "without"),
    ],
)
def test_rejects_what_the_format_cannot_carry(span, problem):
    with pytest.raises(AuthoringError, match=problem):
        mark_in_order("Bí thư Tỉnh ủy", [span])


def test_rejects_a_text_line_that_would_end_the_body():
    with pytest.raises(AuthoringError, match="exactly '---'"):
        mark_in_order("Tiêu đề\n---\nNội dung", [])


def test_compile_marked_builds_a_checked_article():
    text = "\n\nĐồng chí Vũ Thị Hạnh, Chủ tịch UBND huyện.\n"
    spans = (
        "# paragraph 1\nPER\tVũ Thị Hạnh\tp1\nTITLE\tChủ tịch\tt1\n\nORG\tUBND huyện\to1\n"
        "---\np1 HAS_TITLE t1\nt1 TITLE_OF o1\n"
    )
    article = compile_marked(text, spans, "seed-x", {"source": "seed"})
    assert article.startswith("id: seed-x\nsource: seed\n---\n")
    doc = parse_article(article)
    assert doc.text == text.strip("\n")
    assert [e.text for e in doc.entities] == ["Vũ Thị Hạnh", "Chủ tịch", "UBND huyện"]
    assert [(r.type, r.head, r.tail) for r in doc.relations] == [("HAS_TITLE", "p1", "t1"), ("TITLE_OF", "t1", "o1")]
    assert doc.meta == {"source": "seed"}


def test_cli_mark_writes_the_article(tmp_path, capsys):
    (tmp_path / "a.txt").write_text(f"{ETH}ảng ủy Khối họp.\n", encoding="utf-8")
    (tmp_path / "a.spans").write_text("ORG\tĐảng ủy Khối\n---\n", encoding="utf-8")
    assert main(["mark", str(tmp_path / "a.txt"), str(tmp_path / "a.spans"), "seed-a"]) == 0
    out = capsys.readouterr().out
    assert out == f"id: seed-a\nsource: seed\n---\n[[{ETH}ảng ủy Khối|ORG]] họp.\n---\n\n"


def test_cli_mark_reports_a_missing_surface(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("Thành ủy họp.", encoding="utf-8")
    (tmp_path / "a.spans").write_text("ORG\tTỉnh ủy\n", encoding="utf-8")
    assert main(["mark", str(tmp_path / "a.txt"), str(tmp_path / "a.spans"), "seed-a"]) == 1
    assert "'Tỉnh ủy'" in capsys.readouterr().err


def test_skip_steps_over_an_occurrence_left_bare():
    text = "Ban Thường vụ cấp ủy các cấp; sau đó Ban Thường vụ họp."
    spans = [("Ban Thường vụ", "SKIP", None), ("Ban Thường vụ", "ORG", "o1")]
    assert mark_in_order(text, spans) == "Ban Thường vụ cấp ủy các cấp; sau đó [[Ban Thường vụ|ORG o1]] họp."
    assert mark_in_order(text, spans[1:]).startswith("[[Ban Thường vụ|ORG o1]] cấp ủy")
