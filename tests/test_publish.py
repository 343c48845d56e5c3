"""`publish`: the annex a department publishes (附件2 of 部门决算公开), one Word table per project,
read back with python-docx and checked cell by cell, merge by merge, byte by byte."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.shared import Pt
from helpers import INDICATORS, run_cli, staged
from soffice import tool_or_skip

from perfeval_xl import PerfevalError, load_spec
from perfeval_xl.demo import ANNEX_NAME, run_demo
from perfeval_xl.office.collect import collect
from perfeval_xl.office.publish import ZIP_TIME, annex_docx, write_annex

SEED_TITLE = "2022年50万元以上（含）特定目标类部门预算项目绩效目标自评"
#: The seed's three projects: 预算数 and 执行数 (万元), all 财政拨款.
SEED_FUNDS = {
    "2022年媒体合作项目": ("100", "16"),
    "创建全国文明城市": ("114.56", "99.63"),
    "仁和区重大对外宣传活动及重要外宣产品专项": ("210", "40"),
}
#: A project per form, two departments: (file, form, 主管部门代码).
MIXED = [
    ("a.xlsx", "sichuan-2022", "109101"),
    ("b.xlsx", "national-2020", "209001"),
    ("c.xlsx", "sichuan-2023", "109101"),
]


# -- reading the document back -------------------------------------------------------------------
def grid(table) -> list[list[dict]]:
    """Each row's cells as Word has them: grid column, span, vMerge and text."""
    rows = []
    for tr in table._tbl.tr_lst:
        col, cells = 0, []
        for tc in tr.tc_lst:
            span = tc.grid_span
            cells.append(
                {
                    "col": col,
                    "span": span,
                    "vmerge": tc.vMerge,
                    "text": "".join(t.text or "" for t in tc.iter(qn("w:t"))),
                }
            )
            col += span
        rows.append(cells)
    return rows


def texts(rows: list[list[dict]]) -> list[list[str]]:
    return [[c["text"] for c in row] for row in rows]


def under(rows: list[list[dict]], row_label: str, column_label: str) -> str:
    """The text of the cell in the row labelled `row_label`, under the header `column_label`."""
    header = next(r for r in rows if any(c["text"] == column_label for c in r))
    col = next(c["col"] for c in header if c["text"] == column_label)
    row = next(r for r in rows if any(c["text"] == row_label for c in r))
    return next(c["text"] for c in row if c["col"] == col)


def project_name(table) -> str:
    return grid(table)[0][1]["text"]


def all_text(data: bytes) -> str:
    """Every XML part of the package, as text (what anyone who unzips it can read)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "\n".join(
            z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels"))
        )


def sections_of_tables(document) -> list[tuple[str, object]]:
    """(project name, orientation of its section) for each table, in order."""
    body = document.element.body
    out, pending = [], []
    for child in body.iterchildren():
        if child.tag == qn("w:tbl"):
            pending.append(docx.table.Table(child, document._body))
        sect = child.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") if child.tag == qn("w:p") else None
        if child.tag == qn("w:sectPr"):
            sect = child
        if sect is not None:
            section = docx.section.Section(sect, document.part)
            out += [(project_name(t), section.orientation) for t in pending]
            pending = []
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """An inbox of three clean projects: sichuan-2022 and sichuan-2023 of 109101,
    national-2020 of 209001."""
    root = tmp_path_factory.mktemp("mixed")
    for name, form, code in MIXED:
        staged(root / "inbox" / name, form, dept_code=code, project_name=f"{form}项目")
    return root


@pytest.fixture(scope="module")
def mixed_annex(mixed):
    coll = collect(mixed / "inbox")
    result = write_annex(coll, mixed / "附件.docx")
    return coll, result, docx.Document(str(result.path))


# -- the demo: the seed's own annex ----------------------------------------------------------------
def test_demo_writes_the_annex_with_one_table_per_project(demo):
    assert demo.annex == demo.roster.parent / ANNEX_NAME
    d = docx.Document(str(demo.annex))
    assert len(d.tables) == 3
    titles = [p.text for p in d.paragraphs if p.text == SEED_TITLE]
    assert len(titles) == 3
    headings = [p.text for p in d.paragraphs if p.text.startswith("主管部门：")]
    assert headings == ["主管部门：中共攀枝花市仁和区委宣传部（109101）"]
    # project-name order within the department (code-point order, as the summary's)
    assert [project_name(t) for t in d.tables] == sorted(SEED_FUNDS)


def test_demo_tables_carry_the_forms_labels(demo):
    spec = load_spec("sichuan-2022")
    d = docx.Document(str(demo.annex))
    for table in d.tables:
        shown = {c for row in texts(grid(table)) for c in row}
        labels = {
            "项目名称",
            "主管部门及代码",
            "实施单位",
            spec.funds_label,
            "预算数",
            "执行数",
            "执行率",
            *(r.label for r in spec.fund_rows),
            spec.goals.label,
            spec.goals.expected_label,
            spec.goals.actual_label,
            spec.indicators_label,
            *(c.label for c in spec.indicator_columns),
        }
        assert labels <= shown, labels - shown
        assert "中共攀枝花市仁和区委宣传部（109101）" in shown
        assert "攀枝花市区委宣传部" in shown
        # an unscored form shows no score anywhere, and no 自动计算 note
        assert not shown & {"分值", "得分", "总分"}
        assert not any("自动计算" in t or "自评等级" in t for t in shown)


def test_demo_money_in_its_cells(demo):
    d = docx.Document(str(demo.annex))
    budget = spent = 0.0
    for table in d.tables:
        rows = grid(table)
        exp = SEED_FUNDS[project_name(table)]
        got = (under(rows, "合计", "预算数"), under(rows, "合计", "执行数"))
        assert got == exp
        assert (
            under(rows, "其中：财政拨款", "预算数"),
            under(rows, "其中：财政拨款", "执行数"),
        ) == exp
        assert (under(rows, "其他资金", "预算数"), under(rows, "其他资金", "执行数")) == ("", "")
        rate = float(exp[1]) / float(exp[0]) * 100
        assert under(rows, "合计", "执行率") == f"{rate:.2f}%"
        assert under(rows, "其中：财政拨款", "执行率") == ""
        budget += float(got[0])
        spent += float(got[1])
    assert round(budget, 2) == 424.56
    assert round(spent, 2) == 155.63
    rows = grid(next(t for t in d.tables if project_name(t) == "2022年媒体合作项目"))
    assert under(rows, "合计", "执行率") == "16.00%"


def test_demo_level1_cells_are_merged(demo):
    d = docx.Document(str(demo.annex))
    rows = grid(next(t for t in d.tables if project_name(t) == "2022年媒体合作项目"))
    header = next(i for i, r in enumerate(rows) if any(c["text"] == "一级指标" for c in r))
    l1 = next(c["col"] for c in rows[header] if c["text"] == "一级指标")
    body = rows[header + 1 :]
    assert len(body) == 6
    cells = [next(c for c in r if c["col"] == l1) for r in body]
    # 产出 over the first five rows (the seed files 社会效益 under it), 满意度 alone
    assert [(c["vmerge"], c["text"]) for c in cells] == [
        ("restart", "产出指标"),
        ("continue", ""),
        ("continue", ""),
        ("continue", ""),
        ("continue", ""),
        (None, "满意度指标"),
    ]
    # the block label over the header and every indicator row
    first = [r[0] for r in rows[header:]]
    assert first[0]["text"] == "年度绩效指标完成情况" and first[0]["vmerge"] == "restart"
    assert all(c["vmerge"] == "continue" and c["col"] == 0 for c in first[1:])
    # 项目名称's value across the whole table
    assert rows[0][1]["span"] == len(table_grid_columns(d.tables[0])) - 1


def table_grid_columns(table) -> list:
    return table._tbl.tblGrid.gridCol_lst


def test_level2_merged_only_under_the_same_level1(tmp_path):
    rows = [
        {
            "level1": "产出指标",
            "level2": "数量指标",
            "name": f"报道{i}",
            "target": "≥12次",
            "actual": "15次",
            "status": "已完成",
            "weight": w,
            "score": w,
        }
        for i, w in enumerate((15, 15, 10, 10))
    ]
    rows[2]["level2"] = rows[3]["level2"] = "质量指标"
    rows += [dict(r) for r in INDICATORS[3:]]  # 城市形象 (效益, 30) and 公众满意度 (满意度, 10)
    staged(tmp_path / "inbox" / "x.xlsx", "national-2020", indicators=rows)
    result = write_annex(collect(tmp_path / "inbox"), tmp_path / "a.docx", include_errors=True)
    table = docx.Document(str(result.path)).tables[0]
    got = grid(table)
    header = next(i for i, r in enumerate(got) if any(c["text"] == "二级指标" for c in r))
    cols = {c["text"]: c["col"] for c in got[header]}

    def column(label):
        return [
            (c["vmerge"], c["text"])
            for r in got[header + 1 : header + 7]
            for c in r
            if c["col"] == cols[label]
        ]

    assert column("一级指标") == [
        ("restart", "产出指标"),
        ("continue", ""),
        ("continue", ""),
        ("continue", ""),
        (None, "效益指标"),
        (None, "满意度指标"),
    ]
    assert column("二级指标") == [
        ("restart", "数量指标"),
        ("continue", ""),
        ("restart", "质量指标"),
        ("continue", ""),
        (None, "社会效益指标"),
        (None, "服务对象满意度指标"),
    ]
    assert [c for c in column("三级指标")] == [(None, f"报道{i}") for i in range(4)] + [
        (None, "城市形象"),
        (None, "公众满意度"),
    ]


def test_fonts_are_set_for_chinese_text(demo):
    d = docx.Document(str(demo.annex))
    normal = d.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert normal.get(qn("w:ascii")) == "仿宋_GB2312"
    title = next(p for p in d.paragraphs if p.text == SEED_TITLE)
    run = title.runs[0]
    assert run._element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
    assert run.font.bold is True and run.font.size == Pt(14)  # 四号: one line in portrait
    assert title.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER
    cell_runs = [
        r for row in d.tables[0].rows for c in row.cells for p in c.paragraphs for r in p.runs
    ]
    assert cell_runs
    assert {r._element.rPr.rFonts.get(qn("w:eastAsia")) for r in cell_runs} == {"仿宋_GB2312"}
    assert {r.font.size for r in cell_runs} == {Pt(10.5)}
    assert d.tables[0].style.name == "Table Grid"


def test_footer_has_a_page_field(demo):
    d = docx.Document(str(demo.annex))
    footer = d.sections[0].footer.paragraphs[0]
    xml = footer._p.xml
    assert [t.text for t in footer._p.iter(qn("w:instrText"))] == [" PAGE "]
    assert 'w:fldCharType="begin"' in xml and 'w:fldCharType="end"' in xml
    assert footer.text == "- 1 -"
    assert footer.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER


def test_page_breaks_between_projects(demo):
    d = docx.Document(str(demo.annex))
    starts = [p for p in d.paragraphs if p.text == SEED_TITLE or p.text.startswith("主管部门：")]
    # the heading opens page 1; each later project's title starts a page
    assert [p.paragraph_format.page_break_before for p in starts] == [None, None, True, True]
    section = d.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)


# -- several forms and departments -----------------------------------------------------------------
def test_orientation_follows_the_forms_columns(mixed_annex):
    _, result, d = mixed_annex
    assert result.published == 3 and result.departments == 2 and result.with_errors == []
    got = sections_of_tables(d)
    assert got == [
        ("sichuan-2022项目", WD_ORIENT.PORTRAIT),
        ("sichuan-2023项目", WD_ORIENT.LANDSCAPE),
        ("national-2020项目", WD_ORIENT.LANDSCAPE),
    ]
    for section in d.sections:
        size = sorted((round(section.page_width.cm, 1), round(section.page_height.cm, 1)))
        assert size == [21.0, 29.7]
        wide = section.page_width > section.page_height
        assert wide == (section.orientation == WD_ORIENT.LANDSCAPE)
    headings = [p.text for p in d.paragraphs if p.text.startswith("主管部门：")]
    assert headings == [
        "主管部门：中共攀枝花市仁和区委宣传部（109101）",
        "主管部门：中共攀枝花市仁和区委宣传部（209001）",
    ]


def test_scored_form_shows_its_scores(mixed_annex):
    coll, _, d = mixed_annex
    sub = next(s for s in coll.projects if s.counted_record.spec.id == "national-2020")
    score = sub.counted_score
    rows = grid(next(t for t in d.tables if project_name(t) == "national-2020项目"))
    shown = texts(rows)
    assert ["项目代码", "P-2022-001"] in shown
    assert under(rows, "年度资金总额", "全年预算数") == "100"
    assert under(rows, "年度资金总额", "全年执行数") == "95"
    assert under(rows, "年度资金总额", "年初预算数") == ""
    assert under(rows, "年度资金总额", "执行率") == "95.00%"
    assert under(rows, "年度资金总额", "分值") == "10"
    assert under(rows, "年度资金总额", "得分") == f"{score.exec_score:g}" == "9.5"
    assert under(rows, "其中：当年财政拨款", "分值") == ""
    total = rows[-1]
    assert total[0]["text"] == "总分"
    header = next(r for r in rows if any(c["text"] == "三级指标" for c in r))
    cols = {c["text"]: c["col"] for c in header}
    by_col = {c["col"]: c["text"] for c in total}
    assert by_col[cols["分值"]] == "100"
    assert by_col[cols["得分"]] == f"{score.total:g}" == "99.5"
    assert by_col[cols["偏差原因分析及改进措施"]] == f"自评等级：{score.grade}" == "自评等级：优"
    # the indicator rows carry the unit's own 分值 and 得分
    row = next(r for r in rows if any(c["text"] == "媒体报道" for c in r))
    by_col = {c["col"]: c["text"] for c in row}
    assert (by_col[cols["分值"]], by_col[cols["得分"]], by_col[cols["完成状态"]]) == (
        "20",
        "20",
        "已完成",
    )


def test_sichuan_2023_leaves_out_the_reason_column_of_its_funds(mixed_annex):
    _, _, d = mixed_annex
    rows = grid(next(t for t in d.tables if project_name(t) == "sichuan-2023项目"))
    fund_header = next(r for r in rows if any(c["text"] == "年初预算" for c in r))
    assert [c["text"] for c in fund_header] == [
        "项目预算执行情况（万元）",
        "",
        "年初预算",
        "调整后预算数",
        "预算执行数",
        "预算执行率",
        "权重",
        "得分",
    ]
    assert texts(rows)[-3:] == [["评价结论", ""], ["存在问题", ""], ["改进措施", ""]]


def test_dept_keeps_one_department(mixed, tmp_path):
    coll = collect(mixed / "inbox")
    result = write_annex(coll, tmp_path / "a.docx", dept="209001")
    d = docx.Document(str(result.path))
    assert [project_name(t) for t in d.tables] == ["national-2020项目"]
    assert (result.published, result.departments) == (1, 1)
    with pytest.raises(PerfevalError) as err:
        write_annex(coll, tmp_path / "b.docx", dept="999999")
    assert (
        err.value.render("zh") == "收件箱中没有主管部门代码为 999999 的项目（有：109101、209001）"
    )
    assert not (tmp_path / "b.docx").exists()


def test_dept_from_the_command_line(mixed, tmp_path):
    out = tmp_path / "附件.docx"
    proc = run_cli(
        "publish", str(mixed / "inbox"), "-o", str(out), "--dept", "109101", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"已写入 {out}：1 个主管部门、2 个项目\n"
    d = docx.Document(str(out))
    assert [project_name(t) for t in d.tables] == ["sichuan-2022项目", "sichuan-2023项目"]


# -- what may be published ---------------------------------------------------------------------------
def test_nothing_but_the_forms_values(demo, mixed_annex):
    _, result, _ = mixed_annex
    for path in (demo.annex, result.path):
        text = all_text(path.read_bytes())
        assert ".xlsx" not in text
        assert not re.search(r"\b[EW]\d{3}\b", text), re.search(r"\b[EW]\d{3}\b", text)
        assert str(path.parent) not in text and "/tmp" not in text
        assert "python-docx" not in text
        assert "<dc:creator>perfeval-xl</dc:creator>" in text
        assert "<cp:revision>1</cp:revision>" in text
        assert "2000-01-01T00:00:00Z" in text
        assert "lastPrinted" not in text
    # none of the demo's findings (the seed has six errors and many warnings) is in it
    text = all_text(demo.annex.read_bytes())
    findings = demo.collection.all_findings()
    assert sum(f.severity == "error" for f in findings) == 6
    for f in findings:
        assert f.message.zh not in text and f.message.en not in text
    for path in demo.filled:
        assert path.stem not in text


def test_same_bytes_on_every_run(mixed, tmp_path):
    coll = collect(mixed / "inbox")
    a = write_annex(coll, tmp_path / "a.docx").path.read_bytes()
    b = write_annex(collect(mixed / "inbox"), tmp_path / "b.docx").path.read_bytes()
    assert a == b
    projects = [(s.counted_record, s.counted_score) for s in coll.projects]
    assert annex_docx(projects) == annex_docx(list(reversed(projects))) == a
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        infos = z.infolist()
        assert {i.date_time for i in infos} == {ZIP_TIME}
        names = [i.filename for i in infos]
    assert names[0] == "[Content_Types].xml" and names[1:] == sorted(names[1:])


# -- refusals --------------------------------------------------------------------------------------
def test_projects_with_errors_are_refused(demo, tmp_path):
    inbox = demo.filled[0].parent
    out = tmp_path / "附件.docx"
    proc = run_cli("publish", str(inbox), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == (
        "错误: 3 个项目有错误，未生成附件（改正后重新报送；确需照样公开时加 --include-errors）："
    )
    for name in SEED_FUNDS:
        assert f"  {name}：2 个错误，文件 109101_攀枝花市区委宣传部_{name}.xlsx" in lines
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    proc = run_cli("publish", str(inbox), "-o", str(out), "--include-errors", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"已写入 {out}：1 个主管部门、3 个项目\n"
    assert proc.stderr.count("个错误，仍已公开") == 3
    assert out.read_bytes() == demo.annex.read_bytes()


def test_refusal_in_english(demo, tmp_path):
    proc = run_cli(
        "--lang", "en", "publish", str(demo.filled[0].parent), "-o", str(tmp_path / "a.docx"),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: 3 projects with errors, no annex written")
    assert "  创建全国文明城市: 2 errors, file 109101_攀枝花市区委宣传部_创建全国文明城市.xlsx" in (
        proc.stderr.splitlines()
    )


def test_output_inside_the_inbox_is_refused(mixed, tmp_path):
    inbox = mixed / "inbox"
    before = sorted(p.name for p in inbox.iterdir())
    proc = run_cli("publish", str(inbox), "-o", str(inbox / "附件.docx"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "在收件箱里面" in proc.stderr
    assert sorted(p.name for p in inbox.iterdir()) == before
    proc = run_cli("publish", str(inbox), "-o", str(tmp_path / "a.xlsx"), cwd=tmp_path)
    assert proc.returncode == 2 and "须以 .docx 结尾" in proc.stderr


def test_an_empty_inbox_has_nothing_to_publish(tmp_path):
    (tmp_path / "inbox").mkdir()
    proc = run_cli("publish", str(tmp_path / "inbox"), "-o", str(tmp_path / "a.docx"), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == "错误: 收件箱中没有可公开的项目\n"
    assert not (tmp_path / "a.docx").exists()


def test_pdf_without_libreoffice_keeps_the_docx(mixed, tmp_path, monkeypatch):
    import perfeval_xl.office.publish as publish

    monkeypatch.setattr(publish.shutil, "which", lambda name: None)
    out = tmp_path / "附件.docx"
    with pytest.raises(PerfevalError) as err:
        write_annex(collect(mixed / "inbox"), out, pdf=True)
    assert err.value.render("zh").startswith(f"LibreOffice 未安装，无法生成 PDF；已写出 {out}")
    assert out.exists() and not out.with_suffix(".pdf").exists()
    assert len(docx.Document(str(out)).tables) == 3


def test_pdf_that_libreoffice_cannot_make(mixed, tmp_path, monkeypatch):
    import perfeval_xl.office.publish as publish

    fake = tmp_path / "soffice"
    fake.write_text("#!/bin/sh\necho 'Error: source file could not be loaded'\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setattr(publish.shutil, "which", lambda name: str(fake))
    out = tmp_path / "附件.docx"
    with pytest.raises(PerfevalError) as err:
        write_annex(collect(mixed / "inbox"), out, pdf=True)
    assert err.value.render("en") == (
        "LibreOffice could not print the annex as PDF (Error: source file could not be "
        f"loaded); {out} is written"
    )
    assert out.exists() and not out.with_suffix(".pdf").exists()


@pytest.mark.skipif(
    shutil.which("soffice") is None and not os.environ.get("CI"),
    reason="LibreOffice (soffice) is not installed; apt-get install libreoffice-writer",
)
def test_pdf_has_a_page_per_project_at_least(demo, tmp_path):
    pdfinfo = tool_or_skip("pdfinfo")
    out = tmp_path / "附件2.docx"
    proc = run_cli(
        "publish", str(demo.filled[0].parent), "-o", str(out), "--include-errors", "--pdf",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pdf = out.with_suffix(".pdf")
    assert proc.stdout.splitlines() == [f"已写入 {out}：1 个主管部门、3 个项目", f"已写入 {pdf}"]
    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert pages >= 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["附件2.docx", "附件2.pdf"]


@pytest.mark.parametrize(
    ("value", "exp"),
    [
        (100, "100"),
        (100.0, "100"),
        (114.56, "114.56"),
        (99.63000000000001, "99.63"),
        (0.5, "0.5"),
        (0, "0"),
        (-0.0, "0"),
        (1234567.5, "1234567.5"),
        (None, ""),
    ],
)
def test_numbers_as_written(value, exp):
    from perfeval_xl.office.publish import _number

    assert _number(value) == exp


def test_total_is_the_units_own_when_its_scores_differ_within_the_tolerance(tmp_path):
    """The unit scored 媒体报道 19.95 where the rules give 20: no error (within 0.1), and the
    annex's 总分 is the sum of the 得分 column it prints (99.45), not ours (99.5) beside it."""
    rows = [dict(r) for r in INDICATORS]
    rows[0].update(score=19.95, reason="两篇报道延期发布")  # a deduction says why (E508)
    staged(tmp_path / "inbox" / "a.xlsx", "national-2020", indicators=rows)
    coll = collect(tmp_path / "inbox")
    (sub,) = coll.projects
    assert sub.result.errors == 0, [f.code for f in sub.result.findings]
    assert sub.counted_score.total == 99.5
    result = write_annex(coll, tmp_path / "附件.docx")
    table = grid(docx.Document(str(result.path)).tables[0])
    header = next(r for r in table if any(c["text"] == "三级指标" for c in r))
    col = next(c["col"] for c in header if c["text"] == "得分")
    total = {c["col"]: c["text"] for c in table[-1]}
    assert table[-1][0]["text"] == "总分"
    assert total[col] == "99.45"
