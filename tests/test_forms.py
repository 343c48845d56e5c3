"""An office's own form, end to end: a workbook carries the spec it was made from.

The README promises that a copy of national-2020.toml, changed and passed as a file, works. Here
it goes the way a clerk takes it: `template --form my.toml`, the unit fills it in LibreOffice
(typed through its API), and `check` and `collect` read it back on a machine where the form is
not installed and no option names it. Then the ways the office's forms folder (`--forms`) and
the embedded spec meet: the office's spec wins, a changed or broken embedded spec is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from helpers import open_xlsx, run_cli

from perfeval_xl import build_template
from perfeval_xl.errors import SpecError
from perfeval_xl.forms.spec import (
    MAX_SPEC_BYTES,
    load_forms,
    load_spec,
    parse_spec,
)
from perfeval_xl.office.collect import collect
from perfeval_xl.review.checks import check_workbook
from perfeval_xl.sign import load_key
from perfeval_xl.sign import verify as verify_signature
from perfeval_xl.template.generate import META_SHEET, SPEC_TEXT_KEY, spec_parts

NATIONAL = (Path(__file__).parents[1] / "workbook_templates" / "national-2020.toml").read_text(
    encoding="utf-8"
)

#: 成本指标 as an 一级 of its own (as since 财预〔2021〕101号), cut out of 产出指标's 50.
COST_TAXONOMY = """level1 = [
    { label = "产出指标", weight = 40, level2 = ["数量指标", "质量指标", "时效指标"] },
    { label = "成本指标", weight = 10, level2 = ["经济成本指标", "社会成本指标"] },
    { label = "效益指标", weight = 30, level2 = ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"] },
    { label = "满意度指标", weight = 10, level2 = ["服务对象满意度指标"] },
]"""


def county_spec_text(form_id: str = "county-2024", version: int = 1) -> str:
    """national-2020.toml copied, given a new id, with 成本指标 made an 一级."""
    text = NATIONAL.replace('id = "national-2020"', f'id = "{form_id}"', 1)
    text = text.replace("version = 1\n", f"version = {version}\n", 1)
    text, n = re.subn(r"(?ms)^level1 = \[\n.*?^\]", COST_TAXONOMY, text, count=1)
    assert n == 1, "the taxonomy block of national-2020.toml moved"
    return text.replace('title = "项目支出绩效自评表"', 'title = "某县项目支出绩效自评表"', 1)


HEADER = {
    "pe_project_name": "2022年媒体合作项目",
    "pe_project_code": "510411-2022-001",
    "pe_year": 2022,
    "pe_dept_name": "中共攀枝花市仁和区委宣传部",
    "pe_dept_code": "109101",
    "pe_unit_name": "攀枝花市区委宣传部",
    "pe_goal_expected": "全年宣传报道不少于12次。",
    "pe_goal_actual": "共发布报道15次。",
    "pe_fund_fiscal_initial": 114.56,
    "pe_fund_fiscal_budget": 114.56,
    "pe_fund_fiscal_spent": 99.63,
}
REASON = "宣传片受疫情影响推迟至2023年播出"
# level1, level2, name, target, actual, status, reason, weight, score
INDICATORS = [
    ("产出指标", "数量指标", "媒体报道", "≥12次", "15次", "已完成", None, 20, 20),
    ("产出指标", "质量指标", "发布合格率", "≥95%", "100%", "已完成", None, 20, 20),
    ("成本指标", "经济成本指标", "合作经费", "≤100万元", "99.63万元", "已完成", None, 10, 10),
    (
        "效益指标",
        "社会效益指标",
        "城市形象",
        "定性：明显提升",
        "有所提升",
        "部分完成",
        REASON,
        30,
        21,
    ),
    ("满意度指标", "服务对象满意度指标", "公众满意度", "≥90%", "95%", "已完成", None, 10, 10),
]
KEYS = ["level1", "level2", "name", "target", "actual", "status", "reason", "weight", "score"]
#: 执行率 99.63 / 114.56 = 86.97 % of 10 points, and every indicator as reported
EXPECTED_TOTAL = 8.7 + 20 + 20 + 10 + 21 + 10


def typed() -> dict[str, object]:
    values: dict[str, object] = dict(HEADER)
    for i, key in enumerate(KEYS):
        values[f"pe_ind_{key}"] = [row[i] for row in INDICATORS]
    return values


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


# -- end to end --------------------------------------------------------------------------------
def test_an_office_form_goes_through_libreoffice_check_and_collect(office, tmp_path):
    """template --form my.toml → typed in LibreOffice → check → collect, with the spec file
    gone and no option: the workbook's own spec reads it, and the scores are the rules'."""
    made = tmp_path / "office"
    made.mkdir()
    spec_file = made / "county.toml"
    spec_file.write_text(county_spec_text(), encoding="utf-8")
    blank = made / "blank.xlsx"
    done = run_cli("template", "--form", str(spec_file), "-o", str(blank), cwd=made)
    assert done.returncode == 0, done.stderr
    spec_file.unlink()  # nothing installed where the workbooks are read

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    filled_path = inbox / "媒体合作.xlsx"
    office.run(
        [
            {
                "open": str(blank),
                "steps": [{"op": "type", "values": typed()}],
                "save": str(filled_path),
            }
        ]
    )

    reader = tmp_path / "reader"
    reader.mkdir()
    checked = run_cli("check", "--format", "json", str(filled_path), cwd=reader)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    doc = json.loads(checked.stdout)
    (entry,) = doc["files"]
    assert entry["form"] == "county-2024"
    found = {f["code"]: f for f in entry["findings"]}
    assert set(found) == {"I022"}, entry["findings"]
    assert "county-2024" in found["I022"]["message"]
    assert found["I022"]["severity"] == "info"
    assert doc["totals"] == {"files": 1, "errors": 0, "warnings": 0}
    score = entry["project"]
    assert score["score"] == pytest.approx(EXPECTED_TOTAL)
    assert score["grade"] == "良"
    assert score["exec_score"] == pytest.approx(8.7)
    assert score["subtotals"] == {"产出指标": 40, "成本指标": 10, "效益指标": 21, "满意度指标": 10}

    summary = tmp_path / "汇总.xlsx"
    collected = run_cli(
        "collect",
        str(inbox),
        "-o",
        str(summary),
        "--json",
        str(tmp_path / "s.json"),
        "-q",
        cwd=reader,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "已读取 1 个项目" in collected.stdout
    wb = openpyxl.load_workbook(summary, read_only=True)
    rows = list(wb["项目明细"].iter_rows(values_only=True))
    head = next(r for r in rows if r and "成本指标" in r)
    row = rows[rows.index(head) + 1]
    cell = dict(zip(head, row, strict=False))
    assert cell["成本指标"] == 10
    assert cell["产出指标"] == 40
    assert cell["核定总分"] == pytest.approx(EXPECTED_TOTAL)
    assert cell["表式"] == "county-2024"
    assert cell["警告"] == 0  # the I022 note is no warning
    wb.close()


# -- the spec travels with the workbook --------------------------------------------------------
def test_the_workbook_carries_its_spec_text_and_digest():
    spec = parse_spec(county_spec_text().encode(), "county.toml")
    data = build_template(spec)
    wb = open_xlsx(data)
    meta = {r[0].value: r[1].value for r in wb[META_SHEET].iter_rows() if r[0].value}
    text = "".join(v for k, v in meta.items() if k.startswith(SPEC_TEXT_KEY))
    assert text.encode("utf-8") == spec.source
    assert meta["spec_sha256"] == spec.digest
    assert wb.custom_doc_props["perfeval_spec_sha256"].value == spec.digest


def test_a_long_spec_is_cut_into_cells_and_read_back_whole(tmp_path):
    # a help text near the limit on each of many fields: more than one 30,000-character cell
    padding = "".join(
        f'\n[[footer]]\nname = "note{i}"\nlabel = "说明{i}"\nhelp = "{"很" * 1900}"\n'
        for i in range(20)
    )
    spec = parse_spec((county_spec_text() + padding).encode(), "long.toml")
    assert len(spec_parts(spec)) > 1
    path = tmp_path / "long.xlsx"
    path.write_bytes(build_template(spec))
    result = check_workbook(path)
    assert "I022" in codes(result)
    assert result.record.spec.digest == spec.digest


def test_the_office_spec_of_the_same_id_and_version_wins_and_a_difference_is_reported(tmp_path):
    spec = parse_spec(county_spec_text().encode(), "county.toml")
    path = tmp_path / "a.xlsx"
    path.write_bytes(build_template(spec))
    forms = tmp_path / "forms"
    forms.mkdir()
    # the office raised the 满意度 floor after the templates went out
    stricter = county_spec_text().replace("satisfaction_min = 0.9", "satisfaction_min = 0.95")
    (forms / "county.toml").write_text(stricter, encoding="utf-8")
    result = check_workbook(path, forms=load_forms(forms))
    assert "W020" in codes(result) and "I022" not in codes(result)
    assert result.record.spec.satisfaction_min == 0.95
    # the same rules, other comments: no finding
    (forms / "county.toml").write_text("# 本县表式\n" + county_spec_text(), encoding="utf-8")
    result = check_workbook(path, forms=load_forms(forms))
    assert not {"W020", "W021", "I022"} & set(codes(result))
    assert result.record.spec.path == str(forms / "county.toml")


def test_a_built_in_form_needs_no_note(tmp_path):
    path = tmp_path / "n.xlsx"
    path.write_bytes(build_template(load_spec("national-2020")))
    result = check_workbook(path)
    assert not {"W020", "W021", "I022", "E008"} & set(codes(result))


def _meta_edit(src: Path, dst: Path, change) -> None:
    """The workbook with `_meta` changed as someone with openpyxl or an unprotected Excel could."""
    wb = openpyxl.load_workbook(src)
    ws = wb[META_SHEET]
    change({r[0].value: r[1] for r in ws.iter_rows() if r[0].value}, wb)
    wb.save(dst)


def _respec(src: Path, dst: Path, old: str, new: str) -> None:
    """The workbook with its carried spec text changed and its SHA-256 recorded anew in both
    places: a whole, consistent spec, as a careful forger would leave it."""

    def change(cells, wb):
        text = cells[f"{SPEC_TEXT_KEY}1"].value
        assert old in text, old
        text = text.replace(old, new)
        cells[f"{SPEC_TEXT_KEY}1"].value = text
        digest = hashlib.sha256(text.encode()).hexdigest()
        cells["spec_sha256"].value = digest
        wb.custom_doc_props["perfeval_spec_sha256"].value = digest

    _meta_edit(src, dst, change)


def test_an_altered_embedded_spec_is_not_used(tmp_path):
    spec = parse_spec(county_spec_text().encode(), "county.toml")
    src = tmp_path / "a.xlsx"
    src.write_bytes(build_template(spec))
    altered = tmp_path / "altered.xlsx"

    def loosen(cells, wb):  # the unit makes every status score full marks
        cell = cells[f"{SPEC_TEXT_KEY}1"]
        cell.value = cell.value.replace('"部分完成" = [0.6, 0.8]', '"部分完成" = [1.0, 1.0]')

    _meta_edit(src, altered, loosen)
    result = check_workbook(altered)
    # one finding: the form is unknown, and it says why the carried spec could not serve
    assert codes(result) == ["E008"] and result.record is None
    assert "SHA-256" in result.findings[0].message.zh
    assert result.findings[0].file == str(altered)
    # with the form installed, the office's spec reads it, and the alteration is reported
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "county.toml").write_bytes(spec.source)
    result = check_workbook(altered, forms=load_forms(forms))
    assert "W021" in codes(result) and result.record.spec.path == str(forms / "county.toml")

    # with the digest changed to match, the text is whole but not the workbook's own id
    renamed = tmp_path / "renamed.xlsx"

    _respec(src, renamed, 'id = "county-2024"', 'id = "other"')
    result = check_workbook(renamed)
    assert codes(result) == ["E008"]
    assert "other" in result.findings[0].message.zh


def test_an_embedded_spec_is_validated_like_a_spec_file(tmp_path):
    spec = parse_spec(county_spec_text().encode(), "county.toml")
    src = tmp_path / "a.xlsx"
    src.write_bytes(build_template(spec))
    bad = tmp_path / "bad.xlsx"

    _respec(src, bad, 'title = "某县项目支出绩效自评表"', 'title = "某县\\u202e表"')
    result = check_workbook(bad)
    assert codes(result) == ["E008"]
    assert "form.title" in result.findings[0].message.zh


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda t: t + "\n" + "#" * MAX_SPEC_BYTES, ""),
        (
            lambda t: t.replace('title = "某县项目支出绩效自评表"', f'title = "{"长" * 2001}"'),
            "form.title",
        ),
        (
            lambda t: t.replace('title = "某县项目支出绩效自评表"', 'title = "a\\u0007b"'),
            "form.title",
        ),
        (
            lambda t: t.replace(
                'placeholders = ["XX"', "placeholders = [" + '"x", ' * 501 + '"XX"'
            ),
            "checks.placeholders",
        ),
    ],
    ids=["too-large", "long-text", "control-char", "long-array"],
)
def test_spec_limits_apply_to_every_spec_file(tmp_path, change, key):
    path = tmp_path / "big.toml"
    path.write_text(change(county_spec_text()), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert err.value.key == key
    assert err.value.path == str(path)


def test_signature_covers_the_embedded_spec(tmp_path):
    key_file = tmp_path / "office.key"
    key = load_key(key_file, create=True)
    spec = parse_spec(county_spec_text().encode(), "county.toml")
    src = tmp_path / "signed.xlsx"
    src.write_bytes(build_template(spec, {"project_name": "媒体合作"}, key=key))
    result = check_workbook(src)
    assert verify_signature(result.record, key) == []

    swapped = tmp_path / "swapped.xlsx"

    # a consistent new spec, but not the office's
    _respec(src, swapped, "satisfaction_min = 0.9", "satisfaction_min = 0.5")
    result = check_workbook(swapped)
    assert result.record.spec.satisfaction_min == 0.5  # used: nothing else is installed …
    assert [f.code for f in verify_signature(result.record, key)] == ["E702"]  # … but caught


# -- the forms folder ------------------------------------------------------------------------
def test_forms_folder_lists_checks_and_names_a_broken_file(tmp_path):
    forms = tmp_path / "表式"
    forms.mkdir()
    (forms / "county.toml").write_text(county_spec_text(), encoding="utf-8")
    (forms / "broken.toml").write_text("[form]\nid = 3\n", encoding="utf-8")
    (forms / "twin.toml").write_text(county_spec_text(), encoding="utf-8")
    (forms / "notes.txt").write_text("not a spec", encoding="utf-8")
    listed = run_cli("forms", "--forms", str(forms), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith("county-2024\tv1\t") and "county.toml" in line for line in lines)
    for builtin in ("national-2020 *", "sichuan-2022", "sichuan-2023"):
        assert any(line.startswith(builtin) and "内置" in line for line in lines), builtin
    assert "broken.toml" in listed.stderr and "（未使用）" in listed.stderr
    assert "twin.toml" in listed.stderr and "county.toml" in listed.stderr

    # the environment variable does what --forms does; template --form takes the folder's id
    env = {"PERFEVAL_XL_FORMS": str(forms)}
    made = run_cli("template", "--form", "county-2024", "-o", "c.xlsx", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    shown = run_cli("forms", "county-2024", cwd=tmp_path, env=env)
    assert "county-2024（第 1 版）" in shown.stdout and "pe_ind_level1" in shown.stdout
    checked = run_cli("check", "c.xlsx", cwd=tmp_path, env=env)
    assert "I022" not in checked.stdout and "E008" not in checked.stdout


def test_forms_folder_that_is_not_one_is_a_clear_error(tmp_path):
    not_folder = tmp_path / "forms.toml"
    not_folder.write_text(county_spec_text(), encoding="utf-8")
    for command in (["forms"], ["check", str(not_folder)], ["collect", str(tmp_path)]):
        done = run_cli(*command, "--forms", str(tmp_path / "missing"), cwd=tmp_path)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr
        assert "missing" in done.stderr


def test_collect_on_every_core_reads_embedded_and_office_forms(tmp_path):
    """Specs that are not built in travel to the worker processes and back with the records."""
    spec = parse_spec(county_spec_text().encode(), "county.toml")
    other = parse_spec(county_spec_text("town-2024").encode(), "town.toml")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(12):
        (inbox / f"c{i}.xlsx").write_bytes(build_template(spec if i % 2 else other))
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "town.toml").write_bytes(other.source)
    coll = collect(inbox, workers=2, forms=load_forms(forms))
    got = sorted((s.result.record.spec.id, "I022" in codes(s.result)) for s in coll.submissions)
    assert got == [("county-2024", True)] * 6 + [("town-2024", False)] * 6


# -- the README's example, as written ----------------------------------------------------------
def readme_example(name: str) -> list[str]:
    """The lines of the README's shell block marked `<!-- example: NAME … -->`."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    marker = f"<!-- example: {name}"
    assert marker in readme, f"README lost the example {name}"
    block = readme.split(marker, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


def test_the_readme_example_of_an_own_form_runs_as_written(tmp_path):
    """Each line in a shell, the installed `perfeval-xl` first on PATH; the comment that tells
    the clerk to edit the file is done as a clerk would (the id changed)."""
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k != "PERFEVAL_XL_FORMS"}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    outputs = []
    for line in readme_example("own-form"):
        if line.startswith("#"):
            spec_file = tmp_path / "guangxi-2024.toml"
            text = spec_file.read_text(encoding="utf-8")
            spec_file.write_text(
                text.replace('id = "national-2020"', 'id = "guangxi-2024"', 1), encoding="utf-8"
            )
            continue
        done = subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert "Traceback" not in done.stderr, (line, done.stderr)
        # a blank template has errors (nothing filled in): check exits 1, every other line 0
        assert done.returncode == (1 if " check " in f" {line} " else 0), (line, done.stderr)
        outputs.append((line, done.stdout))
    checks = [out for line, out in outputs if line.startswith("perfeval-xl check")]
    assert len(checks) == 2
    assert "I022" in checks[0] and "guangxi-2024" in checks[0]  # read by the spec it carries
    assert "I022" not in checks[1] and "E008" not in checks[1]  # by the office's copy
    listed = outputs[-1][1]
    assert any(line.startswith("guangxi-2024\tv1\t") for line in listed.splitlines())
