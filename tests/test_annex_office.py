"""A Word annex in the office's workflow: the summary and the feedback name each of its projects
by its table (one .docx holds several projects), and a unit that sent its annex gets a workbook
back, filled from its table, that reads as the same project."""

from __future__ import annotations

import io
import json

import docx
import openpyxl
import pytest
from annex_corpus import seed_annex
from helpers import digests, run_cli

from perfeval_xl.office.collect import collect
from perfeval_xl.review.checks import check_workbook

MONEY = 0.005


def _inbox(tmp_path, **kwargs):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    annex = seed_annex(**kwargs)
    (inbox / annex.name).write_bytes(annex.data)
    return inbox, annex


def _rows(ws, header: str) -> tuple[list[str], list[tuple]]:
    """The rows of a summary sheet under the header row that starts with a cell `header`."""
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if header in r)
    return list(rows[at]), [r for r in rows[at + 1 :] if any(v is not None for v in r)]


def test_summary_attributes_each_finding_to_its_table_and_project(tmp_path):
    """Table 2's blank 实际完成指标值 (E401) is project 2's, in 问题清单, and its file is shown
    as `附件2_有误.docx 表2`, not merged into table 1's project by the shared file name."""
    inbox, annex = _inbox(tmp_path, blank_actual=True)
    out = tmp_path / "汇总.xlsx"
    got = run_cli("collect", str(inbox), "-o", str(out), cwd=tmp_path)
    assert got.returncode in (0, 1), got.stderr
    assert "Traceback" not in got.stderr
    wb = openpyxl.load_workbook(out)
    header, rows = _rows(wb["问题清单"], "代码")
    name, file, code, sheet = (header.index(h) for h in ("项目名称", "文件", "代码", "工作表"))
    e401 = [r for r in rows if r[code] == "E401"]
    assert e401, rows
    for r in e401:
        assert r[sheet] == "表2"
        assert r[name] == annex.tables[1].project_name
        assert r[file] == f"{annex.name} 表2"
    # every finding of a table is its own project's
    by_table = {f"表{t.table}": t.project_name for t in annex.tables}
    for r in rows:
        if r[sheet] in by_table:
            assert r[name] == by_table[r[sheet]], r
    header, rows = _rows(wb["项目明细"], "项目名称")
    shown = {r[header.index("项目名称")]: r for r in rows if r[header.index("项目名称")]}
    for t in annex.tables:
        assert t.project_name in shown
        assert f"{annex.name} 表{t.table}" in shown[t.project_name]


def test_feedback_returns_a_workbook_filled_from_each_table(tmp_path):
    """Each project of the annex goes back as a workbook of its form, filled from its table:
    read back, it has the table's money and indicators; the inbox is untouched."""
    inbox, _ = _inbox(tmp_path)
    before = digests(inbox)
    coll = collect(inbox)
    out = tmp_path / "退回"
    got = run_cli("feedback", str(inbox), "-o", str(out), cwd=tmp_path)
    assert got.returncode in (0, 1), got.stderr
    assert "Traceback" not in got.stderr
    books = sorted(out.rglob("*.xlsx"))
    returned = [p for p in books if p.name != "审核结果.xlsx"]
    assert len(returned) == 3
    by_name = {s.result.record.value("project_name"): s.result.record for s in coll.projects}
    for path in returned:
        back = check_workbook(path)
        assert back.record is not None, [f.code for f in back.findings]
        rec = back.record
        source = by_name[rec.value("project_name")]
        assert rec.spec.id == "sichuan-2022"
        for col in ("budget", "spent"):
            assert rec.fund("total", col) == pytest.approx(source.fund("total", col), abs=MONEY)
        assert [i.value("status") for i in rec.indicators] == [
            i.value("status") for i in source.indicators
        ]
        assert [i.value("actual") for i in rec.indicators] == [
            i.value("actual") for i in source.indicators
        ]
    assert digests(inbox) == before


def test_a_note_row_under_the_table_is_no_indicator(tmp_path):
    """Departments end a table with a row across it (注：金额单位为万元, 填报人): the indicator
    table stops there, and nothing of the note is read as an indicator."""
    doc = docx.Document(io.BytesIO(seed_annex().data))
    table = doc.tables[0]
    for text in ("注：金额单位为万元。", "填报人：张三　联系电话：0812-0000000"):
        row = table.add_row()
        merged = row.cells[0].merge(row.cells[-1])
        merged.text = text
    buf = io.BytesIO()
    doc.save(buf)
    path = tmp_path / "附件2_带注.docx"
    path.write_bytes(buf.getvalue())
    got = run_cli("--lang", "en", "check", str(path), "--format", "json", cwd=tmp_path)
    assert "Traceback" not in got.stderr
    first = json.loads(got.stdout)["files"][0]
    names = [i["name"] for i in first["project"]["indicators"]]
    assert len(names) == 6, names
    assert not any("注" in (n or "") or "填报人" in (n or "") for n in names)
    rows = len(table.rows)
    assert not [f for f in first["findings"] if f["cell"] and f"第{rows}行" in f["cell"]]


def test_content_controls_nested_thousands_deep_are_refused_not_a_traceback(tmp_path):
    """A document.xml with its table inside 20,000 nested content controls: one E001 naming the
    file, the batch goes on."""
    import zipfile

    source = seed_annex().data
    with zipfile.ZipFile(io.BytesIO(source)) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    xml = parts["word/document.xml"].decode("utf-8")
    start = xml.index("<w:tbl>")
    depth = 20_000
    xml = (
        xml[:start]
        + "<w:sdt><w:sdtContent>" * depth
        + xml[start:].replace("</w:tbl>", "</w:tbl>" + "</w:sdtContent></w:sdt>" * depth, 1)
    )
    parts["word/document.xml"] = xml.encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "深.docx").write_bytes(buf.getvalue())
    (inbox / "附件2.docx").write_bytes(source)
    got = run_cli("--lang", "en", "check", str(inbox), "--format", "json", cwd=tmp_path)
    assert "Traceback" not in got.stderr
    files = json.loads(got.stdout)["files"]
    deep = [f for f in files if f["path"].endswith("深.docx")]
    assert [[x["code"] for x in f["findings"]] for f in deep] == [["E001"]]
    assert len([f for f in files if f["path"].endswith("附件2.docx") and f["project"]]) == 3


def _simple_annex(*, inline: bool = False, yuan: bool = False, split: bool = False) -> bytes:
    """A hand-made annex of one project in the seed's form, the way some departments type it:
    `项目名称：…` in one cell (`inline`), the fund block in 元 (`yuan`), the indicator part as a
    table of its own after a paragraph (`split`)."""
    doc = docx.Document()
    doc.add_paragraph("2022年50万元以上（含）特定目标类部门预算项目绩效目标自评")
    first = doc.add_table(rows=0, cols=5)

    def row(table, *texts, span_from: int | None = None):
        cells = table.add_row().cells
        for i, text in enumerate(texts):
            cells[i].text = text
        if span_from is not None:
            cells[span_from].merge(cells[-1])
        return cells

    if inline:
        c = first.add_row().cells
        c[0].merge(c[-1]).text = "项目名称：乡村道路养护"
        c = first.add_row().cells
        c[0].merge(c[1]).text = "主管部门及代码：仁和区交通运输局（109201）"
        c[2].merge(c[-1]).text = "实施单位：仁和区公路养护站"
    else:
        row(first, "项目名称", "乡村道路养护", span_from=1)
        row(first, "主管部门及代码", "仁和区交通运输局（109201）", "实施单位", "仁和区公路养护站")
    unit = "（元）" if yuan else "（万元）"
    money = ("800000", "600000") if yuan else ("80", "60")
    row(first, f"项目预算执行情况{unit}", "预算数：", money[0], "执行数：", money[1])
    row(first, "", "其中：财政拨款", money[0], "其中：财政拨款", money[1])
    row(first, "年度总体目标完成情况", "预期目标", "", "目标实际完成情况", "")
    row(first, "", "养护道路 120 公里", "", "养护道路 118 公里", "")
    second = first
    if split:
        doc.add_paragraph("")
        second = doc.add_table(rows=0, cols=5)
    row(second, "一级指标", "二级指标", "三级指标", "预期指标值", "实际完成指标值")
    row(second, "产出指标", "数量指标", "养护里程", "≥120公里", "已完成")
    row(second, "效益指标", "社会效益指标", "道路通畅", "通畅", "已完成")
    row(second, "满意度指标", "服务对象满意度指标", "群众满意度", "≥90%", "已完成")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["plain", "inline", "yuan", "split", "inline-yuan-split"], ids=str)
def test_hand_made_variants_read_the_same_project(tmp_path, kind):
    """The same project typed four ways gives the same record: 80 / 60 万元, three indicators,
    the code and names; amounts in 元 are converted (with a W201 note naming the cell)."""
    flags = {k: k in kind for k in ("inline", "yuan", "split")}
    path = tmp_path / f"{kind}.docx"
    path.write_bytes(_simple_annex(**flags))
    got = run_cli("--lang", "en", "check", str(path), "--format", "json", cwd=tmp_path)
    assert "Traceback" not in got.stderr
    (entry,) = json.loads(got.stdout)["files"]
    p = entry["project"]
    assert p is not None, entry["findings"]
    assert (p["project_name"], p["dept_code"], p["dept_name"], p["unit_name"]) == (
        "乡村道路养护",
        "109201",
        "仁和区交通运输局",
        "仁和区公路养护站",
    )
    assert p["fund_total_budget"] == pytest.approx(80, abs=MONEY)
    assert p["fund_total_spent"] == pytest.approx(60, abs=MONEY)
    assert [i["name"] for i in p["indicators"]] == ["养护里程", "道路通畅", "群众满意度"]
    assert p["year"] == 2022
    yuan = [f for f in entry["findings"] if f["code"] == "W201" and "元" in f["message"]]
    assert bool(yuan) == flags["yuan"], entry["findings"]


def test_a_project_table_without_an_indicator_header_is_named_not_lost(tmp_path):
    """Table 2's indicator header row deleted: tables 1 and 3 are read, and table 2 gives one
    E025 naming its project, so collect lists it as not read instead of dropping it."""
    doc = docx.Document(io.BytesIO(seed_annex().data))
    table = doc.tables[1]
    header = next(r for r in table.rows if any(c.text == "三级\n指标" for c in r.cells))
    table._tbl.remove(header._tr)
    buf = io.BytesIO()
    doc.save(buf)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "附件2.docx").write_bytes(buf.getvalue())
    got = run_cli("--lang", "en", "check", str(inbox), "--format", "json", cwd=tmp_path)
    assert "Traceback" not in got.stderr
    files = json.loads(got.stdout)["files"]
    read = [f["project"]["project_name"] for f in files if f["project"]]
    assert read == ["2022年媒体合作项目", "仁和区重大对外宣传活动及重要外宣产品专项"]
    (lost,) = [f for f in files if not f["project"]]
    assert [(x["code"], x["sheet"]) for x in lost["findings"]] == [("E025", "表2")]
    assert "创建全国文明城市" in lost["findings"][0]["message"]
    out = tmp_path / "汇总.xlsx"
    got = run_cli("collect", str(inbox), "-o", str(out), cwd=tmp_path)
    assert "Traceback" not in got.stderr
    assert "1 个文件无法读取" in got.stdout + got.stderr


def test_a_table_the_reader_fails_on_is_one_finding_not_a_traceback(monkeypatch):
    """Whatever goes wrong inside one table's reading is that table's E001; the other tables
    of the document are read as usual."""
    from perfeval_xl.intake import annexread

    real = annexread._TableReader.read

    def failing(self):
        if self.table.number == 2:
            raise ValueError("a reader bug")
        return real(self)

    monkeypatch.setattr(annexread._TableReader, "read", failing)
    got = annexread.read_document("附件2.docx", seed_annex().data)
    assert [r.record is not None for r in got] == [True, False, True]
    assert [(f.code, f.sheet) for f in got[1].findings] == [("E001", "表2")]


def test_one_annex_is_one_file_of_three_projects_in_every_count(tmp_path):
    """The seed's annex: 1 file received and 3 projects, in check's summary line, in collect's
    JSON totals and in the summary's header; 部门汇总's row and the JSON's department agree
    (424.56 / 155.63)."""
    inbox, annex = _inbox(tmp_path)
    got = run_cli("check", str(inbox / annex.name), cwd=tmp_path)
    assert got.stdout.splitlines()[-1].startswith("1 个文件，")
    out, js = tmp_path / "汇总.xlsx", tmp_path / "汇总.json"
    got = run_cli("collect", str(inbox), "-o", str(out), "--json", str(js), cwd=tmp_path)
    assert "Traceback" not in got.stderr
    doc = json.loads(js.read_text("utf-8"))
    assert (doc["totals"]["files"], doc["totals"]["projects"]) == (1, 3)
    ws = openpyxl.load_workbook(out)["部门汇总"]
    assert "收到文件 1 个，汇总项目 3 个" in ws["A2"].value
    header, rows = _rows(ws, "主管部门代码")
    row = next(r for r in rows if r[0] == "109101")
    (dept,) = doc["departments"]
    for label, key in (
        ("项目数", "projects"),
        ("预算数（万元）", "budget"),
        ("执行数（万元）", "spent"),
    ):
        assert row[header.index(label)] == pytest.approx(dept[key], abs=MONEY)
    assert (dept["projects"], dept["budget"], dept["spent"]) == (3, 424.56, 155.63)
