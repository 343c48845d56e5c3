"""Reading published Word annexes (附件2 of a department's final accounts, domain.md §8) with
`check` and `collect`: each 自评表 table of a .docx is read by its labels as the closest
built-in form, checked and scored like a workbook, and its findings name the table (表N) and
the row and column a person sees (第K行「label」).

The documents are made by tests/annex_corpus.py the way departments make them (python-docx,
never our own publisher), each with the values a correct reader must get. Everything goes
through the installed command (`run_cli`). The corpus tests at the end check the documents
themselves: python-docx reopens them, the seed annex reproduces its text dump cell for cell,
LibreOffice prints it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import docx
import pytest
from annex_corpus import (
    Annex,
    BadFile,
    Expected,
    bad_annexes,
    good_annexes,
    national_annex,
    national_score,
    no_form_annex,
    preprinted_row_annex,
    seed_annex,
    seed_projects,
    split_labels_annex,
)
from docx.oxml.ns import qn
from helpers import digests, filled, run_cli, texts_of
from soffice import convert

#: Money is compared to half a fen of a 万元 figure as printed (2 decimals).
MONEY = 0.005
#: Where a finding about a table points: row counted from 1 in the table, the column's label.
CELL = re.compile(r"第\d+行「[^」]+」")
SEED_DUMP = Path("/work/shared/seed/000_118172d649d3c167.txt")


# -- running the command -----------------------------------------------------------------------


def put(folder: Path, item: Annex | BadFile) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / item.name
    path.write_bytes(item.data)
    return path


def check(tmp_path: Path, *names: str) -> tuple[int, dict, str]:
    """`perfeval-xl --lang en check NAMES --format json` in tmp_path: exit code, JSON, stderr.
    Never a traceback, whatever the files are."""
    proc = run_cli("--lang", "en", "check", *names, "--format", "json", cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def entries(doc: dict, name: str) -> list[dict]:
    return [e for e in doc["files"] if e["path"] == name]


def squash(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def codes(entry: dict) -> list[str]:
    return sorted(f["code"] for f in entry["findings"])


def assert_table(entry: dict, exp: Expected) -> None:
    """One `files` entry is the table `exp` describes, read as its form."""
    where = f"{entry['path']} {exp.sheet}"
    assert entry["form"] == exp.form, where
    p = entry["project"]
    assert p is not None, (where, entry["findings"])
    assert p["project_name"] == exp.project_name, where
    assert p.get("dept_code") == exp.dept_code, where
    assert p["unit_name"] == exp.unit_name, where
    assert p["year"] == exp.year, where
    if exp.dept_name is not None:
        assert p["dept_name"] == exp.dept_name, where
    money = {
        "fund_total_budget": exp.budget,
        "fund_total_spent": exp.spent,
        "fund_fiscal_budget": exp.fiscal_budget,
        "fund_fiscal_spent": exp.fiscal_spent,
    }
    for key, value in money.items():
        assert p[key] == pytest.approx(value, abs=MONEY), (where, key, p[key])
    if exp.goal_expected is not None:
        assert squash(p["goal_expected"]) == squash(exp.goal_expected), where
        assert squash(p["goal_actual"]) == squash(exp.goal_actual), where
    inds = p["indicators"]
    assert len(inds) == len(exp.indicators), (where, [i["name"] for i in inds])
    assert [(i["level1"], i["level2"]) for i in inds] == exp.levels, where
    assert [squash(i["name"]) for i in inds] == [squash(i.name) for i in exp.indicators], where
    if exp.statuses_given:
        # a status the table does not say (a blank 实际完成指标值) is unread: no "status" key
        assert [i.get("status") for i in inds] == exp.statuses, where
    if exp.score is not None:
        assert p["score"] == pytest.approx(exp.score, abs=MONEY), where
        assert p["grade"] == exp.grade, where
    # it says which form it was read as, and every finding about it names it as a person would
    assert [f for f in entry["findings"] if f["code"] == "I024" and exp.form in f["message"]], (
        where,
        entry["findings"],
    )
    for f in entry["findings"]:
        assert f["sheet"] in (None, exp.sheet), (where, f)
        assert f["cell"] is None or CELL.fullmatch(f["cell"]), (where, f)


# -- reading annexes ---------------------------------------------------------------------------


def test_seed_annex_reads_its_three_projects(tmp_path):
    annex = seed_annex()
    path = put(tmp_path, annex)
    before = path.read_bytes()
    code, doc, _ = check(tmp_path, annex.name)
    got = entries(doc, annex.name)
    assert len(got) == 3 == len(doc["files"])
    for entry, exp in zip(got, annex.tables, strict=True):
        assert_table(entry, exp)
        # the unpaid cost row (未支付完成, no reason): E405, as on the seed's workbooks
        assert "E405" in codes(entry)
    budgets = sum(e["project"]["fund_total_budget"] for e in got)
    spent = sum(e["project"]["fund_total_spent"] for e in got)
    assert budgets == pytest.approx(424.56, abs=MONEY)
    assert spent == pytest.approx(155.63, abs=MONEY)
    assert code == 1  # the seed has real errors (E405, E403)
    assert path.read_bytes() == before


@pytest.mark.parametrize("annex", good_annexes(), ids=lambda a: a.name)
def test_annex_tables_read_as_expected(tmp_path, annex: Annex):
    path = put(tmp_path, annex)
    before = path.read_bytes()
    code, doc, _ = check(tmp_path, annex.name)
    got = entries(doc, annex.name)
    assert len(got) == len(annex.tables) == len(doc["files"]), [e["findings"] for e in got]
    for entry, exp in zip(got, annex.tables, strict=True):
        assert_table(entry, exp)
        assert "E023" not in codes(entry)
    assert code in (0, 1)
    assert path.read_bytes() == before


def test_national_annex_scores_by_the_national_rules(tmp_path):
    """98.5 = 执行率 189/210 = 90 % → 9, and 89.5 from the indicators (85/90 × 5 and 88/90 × 10
    below full): the stated 得分 and 总分 agree, so no score finding."""
    annex = national_annex(dept_code="125001", name="国家表式_有代码.docx")
    put(tmp_path, annex)
    _, doc, _ = check(tmp_path, annex.name)
    (entry,) = entries(doc, annex.name)
    assert_table(entry, annex.tables[0])
    assert entry["project"]["exec_rate"] == pytest.approx(0.9, abs=1e-4)
    assert not {"E505", "E506", "E501", "E504", "E301", "E302"} & set(codes(entry))


def test_national_annex_without_a_code_says_so(tmp_path):
    """主管部门 | name only (the national form has no code cell): no code is made up, and the
    missing code is the header error a workbook gets (E101 on dept_code)."""
    annex = national_annex()
    put(tmp_path, annex)
    _, doc, _ = check(tmp_path, annex.name)
    (entry,) = entries(doc, annex.name)
    assert entry["project"].get("dept_code") is None
    assert entry["project"]["dept_name"] == "攀枝花市仁和区教育和体育局"
    e101 = [f for f in entry["findings"] if f["code"] == "E101"]
    assert [f["field"] for f in e101] == ["dept_code"], e101
    assert all(f["sheet"] == "表1" for f in e101)


def test_preprinted_empty_row_is_no_indicator(tmp_path):
    """池州贵池's empty 经济效益指标 row (第16行: the top of the merged 效益指标(30分) cell, with
    only its 二级 filled) is not an indicator: no error for its blank 三级, target, actual."""
    annex = preprinted_row_annex()
    put(tmp_path, annex)
    _, doc, _ = check(tmp_path, annex.name)
    (entry,) = entries(doc, annex.name)
    assert_table(entry, annex.tables[0])
    assert "经济效益指标" not in [i["level2"] for i in entry["project"]["indicators"]]
    # row 16 is where the merged 效益指标(30分) cell starts: only that label may be spoken of there
    on_row = [f for f in entry["findings"] if (f["cell"] or "").startswith("第16行")]
    assert all(f["cell"] == "第16行「一级指标」" for f in on_row), on_row
    assert not [f for f in on_row if f["severity"] == "error"], on_row


def test_seed_statuses_come_from_the_actual_column(tmp_path):
    """No status column: 已完成 and 未支付完成 in 实际完成指标值 are the statuses."""
    annex = seed_annex()
    put(tmp_path, annex)
    _, doc, _ = check(tmp_path, annex.name)
    for entry in entries(doc, annex.name):
        inds = entry["project"]["indicators"]
        assert [i["status"] for i in inds] == ["已完成"] * 3 + ["未完成"] + ["已完成"] * 2
        assert [i["actual"] for i in inds][3] == "未支付完成"
        # the 社会效益 row sits under the merged 完成指标 cell: read under 产出指标, as on paper
        assert (inds[4]["level1"], inds[4]["level2"]) == ("产出指标", "社会效益指标")


def test_planted_defects_are_located_by_table_and_row(tmp_path):
    """A blank 实际完成指标值 in table 2 (第10行) and 执行数 250 > 预算数 210 in table 3."""
    annex = seed_annex(blank_actual=True, overspent=True)
    put(tmp_path, annex)
    code, doc, _ = check(tmp_path, annex.name)
    assert code == 1
    got = entries(doc, annex.name)
    assert len(got) == 3
    for entry, exp in zip(got, annex.tables, strict=True):
        assert_table(entry, exp)
    for planted in annex.planted:
        found = [
            f
            for e in got
            for f in e["findings"]
            if f["code"] == planted.code and f["sheet"] == planted.sheet
        ]
        assert any(re.fullmatch(planted.cell, f["cell"] or "") for f in found), (planted, found)
    t1, t2, t3 = got
    assert not {"E401", "E301"} & set(codes(t1))
    # the blank actual is the only missing value of table 2, on its row
    e401 = [f["cell"] for f in t2["findings"] if f["code"] == "E401"]
    assert e401 and all(c.startswith("第10行") for c in e401), e401
    assert "E301" not in codes(t2) and "E401" not in codes(t3)
    assert t2["project"]["indicators"][1]["actual"] in (None, "")


def test_national_overspent_names_both_fund_rows(tmp_path):
    annex = national_annex(overspent=True, name="超支.docx")
    put(tmp_path, annex)
    _, doc, _ = check(tmp_path, annex.name)
    (entry,) = entries(doc, annex.name)
    assert_table(entry, annex.tables[0])
    e301 = {(f["sheet"], f["cell"]) for f in entry["findings"] if f["code"] == "E301"}
    assert e301 == {("表1", "第4行「全年执行数」"), ("表1", "第5行「全年执行数」")}


def test_document_without_a_form_table_gives_only_E023(tmp_path):
    annex = no_form_annex()
    path = put(tmp_path, annex)
    before = path.read_bytes()
    code, doc, _ = check(tmp_path, annex.name)
    assert code == 1
    (entry,) = doc["files"]
    assert entry["path"] == annex.name
    assert entry["project"] is None
    assert [f["code"] for f in entry["findings"]] == ["E023"]
    assert entry["findings"][0]["file"] == annex.name
    assert path.read_bytes() == before


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", bad_annexes(), ids=lambda b: b.name)
def test_bad_document_is_refused_with_one_finding(tmp_path, bad: BadFile):
    path = put(tmp_path, bad)
    code, doc, stderr = check(tmp_path, bad.name)
    assert code == 1, (bad.what, stderr)
    (entry,) = doc["files"]
    assert entry["path"] == bad.name
    assert entry["project"] is None, bad.what
    (finding,) = entry["findings"]
    assert finding["code"] in bad.codes, (bad.what, finding)
    assert finding["severity"] == "error"
    assert finding["file"] == bad.name
    assert path.read_bytes() == bad.data


def test_batch_with_a_bad_document_reads_the_others(tmp_path):
    bad = next(b for b in bad_annexes() if b.name == "截断.docx")
    good, none = seed_annex(), no_form_annex()
    for item in (good, bad, none):
        put(tmp_path, item)
    before = digests(tmp_path)
    code, doc, _ = check(tmp_path, good.name, bad.name, none.name)
    assert code == 1
    assert [e["path"] for e in doc["files"]] == [good.name] * 3 + [bad.name, none.name]
    for entry, exp in zip(entries(doc, good.name), good.tables, strict=True):
        assert_table(entry, exp)
    assert codes(entries(doc, bad.name)[0]) == ["E001"]
    assert codes(entries(doc, none.name)[0]) == ["E023"]
    assert digests(tmp_path) == before


# -- collect -----------------------------------------------------------------------------------


def collect_json(tmp_path: Path, inbox: Path) -> tuple[int, dict, Path]:
    out, js = tmp_path / "summary.xlsx", tmp_path / "c.json"
    proc = run_cli(
        "--lang", "en", "collect", str(inbox), "-q", "-o", str(out), "--json", str(js),
        cwd=tmp_path,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    assert out.exists() and js.exists(), proc.stdout + proc.stderr
    return proc.returncode, json.loads(js.read_text("utf-8")), out


def test_collect_reads_annexes_beside_workbooks(tmp_path):
    inbox = tmp_path / "inbox"
    seed = seed_annex()
    national = national_annex(dept_code="125001", name="国家表式_有代码.docx")
    put(inbox, seed)
    put(inbox, national)
    stage = tmp_path / "stage"
    stage.mkdir()
    book = filled(stage, "national-2020", project_name="工作簿项目")  # 109101, 100 / 95
    book.rename(inbox / "工作簿项目.xlsx")
    before = digests(inbox)
    code, doc, out = collect_json(tmp_path, inbox)
    assert code in (0, 1)
    assert doc["totals"]["projects"] == 5
    assert doc["totals"]["unreadable"] == 0
    read = {e["project"]["project_name"]: e for e in doc["files"] if e["project"]}
    expected = {t.project_name: t for t in seed.tables + national.tables}
    assert set(read) == {*expected, "工作簿项目"}
    for name, exp in expected.items():
        assert_table(read[name], exp)
    depts = {d["code"]: d for d in doc["departments"]}
    assert depts["109101"]["projects"] == 4
    assert depts["109101"]["budget"] == pytest.approx(424.56 + 100, abs=MONEY)
    assert depts["109101"]["spent"] == pytest.approx(155.63 + 95, abs=MONEY)
    assert depts["125001"]["projects"] == 1
    assert depts["125001"]["budget"] == pytest.approx(210, abs=MONEY)
    assert depts["125001"]["spent"] == pytest.approx(189, abs=MONEY)
    texts = texts_of(out)
    assert set(expected) <= texts
    assert digests(inbox) == before


def test_collect_goes_on_past_a_bad_document(tmp_path):
    inbox = tmp_path / "inbox"
    seed = seed_annex()
    put(inbox, seed)
    for bad in bad_annexes():
        if bad.name in ("截断.docx", "宏文档.docm"):
            put(inbox, bad)
    put(inbox, no_form_annex())
    before = digests(inbox)
    code, doc, _ = collect_json(tmp_path, inbox)
    assert code == 1
    assert doc["totals"]["projects"] == 3
    assert {e["project"]["project_name"] for e in doc["files"] if e["project"]} == {
        p["project_name"] for p in seed_projects()
    }
    refused = {
        e["path"]: [f["code"] for f in e["findings"]] for e in doc["files"] if not e["project"]
    }
    assert refused == {"截断.docx": ["E001"], "宏文档.docm": ["E004"], "决算说明.docx": ["E023"]}
    assert digests(inbox) == before


# -- the corpus itself -------------------------------------------------------------------------

ALL = [
    *good_annexes(),
    no_form_annex(),
    seed_annex(blank_actual=True, overspent=True),
    national_annex(overspent=True, name="超支.docx"),
]


@pytest.mark.parametrize("annex", ALL, ids=lambda a: a.name)
def test_corpus_document_reopens(annex: Annex):
    document = docx.Document(io.BytesIO(annex.data))
    assert len(document.tables) == annex.tables_in_document
    body = document.element.body
    if annex.tables:  # forms are merged as Word merges them: spans across, vMerge down
        assert body.findall(f".//{qn('w:vMerge')}")
        assert body.findall(f".//{qn('w:gridSpan')}")
    assert {t.table for t in annex.tables} <= set(range(1, annex.tables_in_document + 1))


def _dump_rows(text: str) -> list[list[str]]:
    """The seed's text dump as rows of cells: a tab starts a cell, a blank line ends a row."""
    rows: list[list[str]] = []
    row: list[str] = []
    cell: str | None = None
    for line in text.split("\n"):
        if line.startswith("\t"):
            if cell is not None:
                row.append(cell)
            cell = line[1:]
        elif line == "":
            if cell is not None:
                row.append(cell)
                cell = None
            if row:
                rows.append(row)
                row = []
        elif cell is not None:
            cell += "\n" + line
    if cell is not None:
        row.append(cell)
    if row:
        rows.append(row)
    return rows


def _docx_rows(data: bytes) -> list[list[str]]:
    """Every table row of a document as the dump shows it: each w:tc once (a vMerge
    continuation empty), its paragraphs one a line."""
    body = docx.Document(io.BytesIO(data)).element.body
    return [
        [
            "\n".join("".join(t.text or "" for t in p.iter(qn("w:t"))) for p in tc.iter(qn("w:p")))
            for tc in tr.iter(qn("w:tc"))
        ]
        for tr in body.iter(qn("w:tr"))
    ]


def test_seed_annex_reproduces_the_dump_cell_for_cell():
    if not SEED_DUMP.exists():
        pytest.skip(f"the seed dump {SEED_DUMP} is not on this machine")
    dump = _dump_rows(SEED_DUMP.read_text("utf-8"))
    heading, tables = dump[0], dump[1:]  # 附件2： and the first title, before the first table
    assert heading[0].startswith("附件2：")
    tables[-1][-1] = tables[-1][-1].rstrip()  # the dump's end of file
    assert _docx_rows(seed_annex().data) == tables


def test_seed_annex_paragraphs_and_merges():
    document = docx.Document(io.BytesIO(seed_annex().data))
    texts = [p.text for p in document.paragraphs if p.text]
    assert texts[0] == "附件2："
    assert texts.count("2022年50万元以上（含）特定目标类部门预算项目绩效目标自评") == 3
    for table in document.tables:
        assert table.cell(3, 0).text == "项目预算\n执行情况\n（万元）"  # merged down from row 3
        assert table.cell(9, 1).text == table.cell(12, 1).text == "完成\n指标"
        assert table.cell(12, 2).text == "社会效益  指标"
        assert table.cell(2, 1).text == " 预算数："


def test_split_labels_are_split_in_the_xml():
    document = docx.Document(io.BytesIO(split_labels_annex().data))
    first = document.tables[0].cell(0, 0)
    runs = first.paragraphs[0].runs
    assert len(runs) > 2 and "".join(r.text for r in runs) == "项目名称"
    assert first._tc.findall(f".//{qn('w:proofErr')}")


def test_bad_files_are_what_they_claim():
    bad = {b.name: b.data for b in bad_annexes()}
    with zipfile.ZipFile(io.BytesIO(bad["宏文档.docm"])) as z:
        assert "word/vbaProject.bin" in z.namelist()
        assert b"macroEnabled.main+xml" in z.read("[Content_Types].xml")
    with zipfile.ZipFile(io.BytesIO(bad["实体.docx"])) as z:
        assert b"<!ENTITY lol4" in z.read("word/document.xml")
    assert bad["旧版.doc"].startswith(bytes.fromhex("d0cf11e0a1b11ae1"))
    with zipfile.ZipFile(io.BytesIO(bad["工作簿改名.docx"])) as z:
        assert "xl/workbook.xml" in z.namelist()
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bad["截断.docx"]))


def test_national_figures_follow_the_rules():
    """The corpus' own arithmetic (domain.md §3), so the expected 98.5 is not just copied."""
    total, scores = national_score(189, 210)
    assert scores == [15, 10, 10, 4.72, 10, 15, 15, 9.78]
    assert total == 98.5
    assert national_score(230, 210)[0] == 99.5  # 执行率 capped at 1


def test_libreoffice_prints_the_seed_annex(tmp_path, lo_profile):
    path = put(tmp_path / "in", seed_annex())
    (pdf,) = convert([path], "pdf", tmp_path / "out", lo_profile)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf.stat().st_size > 10_000
