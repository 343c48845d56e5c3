"""Helpers for tests: read generated workbooks, and fill them by contract name."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import openpyxl

from perfeval_xl import build_template, load_spec
from perfeval_xl.forms.spec import Spec, parse_spec

#: Office-issued values of the seed's first project (templates, signatures).
ISSUED = {
    "project_name": "2022年媒体合作项目",
    "dept_code": "109101",
    "dept_name": "中共攀枝花市仁和区委宣传部",
    "unit_name": "攀枝花市区委宣传部",
    "year": 2022,
    "fund_fiscal_budget": 100.0,
}


def with_parts(data: bytes, changes: dict[str, Callable[[bytes | None], bytes]]) -> bytes:
    """The package `data` zipped again with each part in `changes` replaced by
    `change(its bytes)`, and a part it lacks added as `change(None)`: a changed part gets past
    the zip's CRCs to the parsers. Every other part is copied as it is."""
    todo = dict(changes)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            raw = src.read(info)
            if info.filename in todo:
                raw = todo.pop(info.filename)(raw)
            dst.writestr(info, raw)
        for name, change in todo.items():
            dst.writestr(name, change(None))
    return out.getvalue()


def open_xlsx(data: bytes, **kwargs) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data), **kwargs)


def named_cell(wb: openpyxl.Workbook, name: str):
    """The first cell a workbook-scoped defined name points at."""
    sheet, ref = next(wb.defined_names[name].destinations)
    return wb[sheet][ref.replace("$", "").split(":")[0]]


def unlocked(ws) -> set[str]:
    """The cells of a worksheet a person may type into (unlocked)."""
    return {c.coordinate for row in ws.iter_rows() for c in row if c.protection.locked is False}


def list_rules(ws) -> dict[str, str]:
    """A worksheet's dropdowns: range -> list source."""
    return {
        str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"
    }


def fill(wb: openpyxl.Workbook, values: dict[str, object], indicators: list[dict]) -> None:
    """Type values into a template by contract name (openpyxl: for formula tests only)."""
    for name, value in values.items():
        named_cell(wb, f"pe_{name}").value = value
    for i, row in enumerate(indicators):
        for key, value in row.items():
            named_cell(wb, f"pe_ind_{key}").offset(row=i).value = value


HEADER = {
    "project_name": "2022年媒体合作项目",
    "project_code": "P-2022-001",
    "year": 2022,
    "dept_name": "中共攀枝花市仁和区委宣传部",
    "dept_code": "109101",
    "unit_name": "攀枝花市区委宣传部",
    "goal_expected": "与主流媒体合作宣传仁和",
    "goal_actual": "各媒体发布任务均已完成",
}
FUNDS = {"fund_fiscal_budget": 100, "fund_fiscal_spent": 95}
INDICATORS = [
    {
        "level1": "产出指标",
        "level2": "数量指标",
        "name": "媒体报道",
        "target": "≥12次",
        "actual": "15次",
        "status": "已完成",
        "weight": 20,
        "score": 20,
    },
    {
        "level1": "产出指标",
        "level2": "质量指标",
        "name": "发布合格率",
        "target": "≥95%",
        "actual": "100%",
        "status": "已完成",
        "weight": 20,
        "score": 20,
    },
    {
        "level1": "产出指标",
        "level2": "成本指标",
        "name": "合作经费",
        "target": "≤100万元",
        "actual": "95万元",
        "status": "已完成",
        "weight": 10,
        "score": 10,
    },
    {
        "level1": "效益指标",
        "level2": "社会效益指标",
        "name": "城市形象",
        "target": "定性：明显提升",
        "actual": "明显提升",
        "status": "已完成",
        "weight": 30,
        "score": 30,
    },
    {
        "level1": "满意度指标",
        "level2": "服务对象满意度指标",
        "name": "公众满意度",
        "target": "≥90%",
        "actual": "95%",
        "status": "已完成",
        "weight": 10,
        "score": 10,
    },
]


def filled(
    tmp_path: Path, form: str = "national-2020", change: Callable | None = None, **over
) -> Path:
    """A clean filled form with `over` replacing values (None clears) and `change(wb)` applied."""
    spec = load_spec(form)
    wb = open_xlsx(build_template(spec))
    indicators = [dict(row) for row in over.pop("indicators", INDICATORS)]
    if not spec.scored:
        for row in indicators:
            row.pop("weight", None), row.pop("score", None)
    if form == "sichuan-2023":
        for row in indicators:
            target = row.get("target") or ""
            row.setdefault("sign", "定性" if "定性" in target else target[:1] or "≥")
    if form == "national-2021":  # 成本 is a 一级 of its own there: 产出 40 / 成本 10
        for row in indicators:
            if row.get("level1") == "产出指标" and row.get("level2") == "成本指标":
                row.update(level1="成本指标", level2="经济成本指标")
    values = {**HEADER, **FUNDS, **over}
    fill(wb, values, indicators)
    if change is not None:
        change(wb)
    path = tmp_path / f"{form}.xlsx"
    wb.save(path)
    return path


def spec_variant(form: str, old: str, new: str) -> Spec:
    """Built-in `form` with `old` replaced by `new` in its TOML text (exactly once), under the
    same id: a workbook made from the built-in form can be checked by it (`check_as`)."""
    text = (
        resources.files("perfeval_xl.workbook_templates")
        .joinpath(f"{form}.toml")
        .read_text(encoding="utf-8")
    )
    assert text.count(old) == 1, old
    return parse_spec(text.replace(old, new).encode("utf-8"), f"{form}-variant.toml")


def check_as(spec: Spec, path: Path):
    """`check_workbook(path)` by `spec` instead of the installed spec of the workbook's form
    (read as usual, then checked and scored by `spec`): a variant of a built-in form."""
    from perfeval_xl.intake.read import read_workbook
    from perfeval_xl.review.checks import check_read

    result = read_workbook(path)
    assert result.record is not None and result.record.spec.id == spec.id, result.findings
    result.record.spec = spec
    return check_read(result)


def legacy_zip(path: Path, members: dict[bytes, bytes | Path]) -> Path:
    """A .zip at `path` whose member names are the given raw bytes, stored without the UTF-8
    flag (bit 0x800), as 360压缩, WinRAR and Windows' "send to compressed folder" write them on
    a Chinese Windows (GBK). `zipfile` sets the flag for any non-ASCII name, so each member is
    written under an ASCII stand-in of the same length whose bytes are then replaced where the
    name is stored: its local header and its central directory entry."""
    stand_ins = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (raw, data) in enumerate(members.items()):
            stand_in = f"~{i:03d}".encode().ljust(len(raw), b"~")
            assert len(raw) >= 4 and len(stand_in) == len(raw)
            content = data.read_bytes() if isinstance(data, Path) else data
            z.writestr(stand_in.decode(), content)
            stand_ins[stand_in] = raw
    blob = path.read_bytes()
    for stand_in, raw in stand_ins.items():
        assert blob.count(stand_in) == 2, stand_in  # local header, central directory
        blob = blob.replace(stand_in, raw)
    path.write_bytes(blob)
    with zipfile.ZipFile(path) as z:  # read back: the names are stored without the flag
        infos = z.infolist()
    assert [i.orig_filename.encode("cp437") for i in infos] == list(members)
    assert not any(i.flag_bits & 0x800 for i in infos)
    return path


def staged(dest: Path, form: str = "national-2020", change: Callable | None = None, **over) -> Path:
    """A filled form (`filled`) moved to `dest`, its project named after the file unless
    `over` names it: each file of an inbox is then a project of its own."""
    over.setdefault("project_name", f"{dest.stem}项目")
    stage = dest.parent / f".stage-{dest.name}"
    stage.mkdir(parents=True)
    path = filled(stage, form, change, **over)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, dest)
    stage.rmdir()
    return dest


def coordinate(data: bytes, name: str) -> str:
    """The cell a contract name points at in the workbook `data` (G9)."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    try:
        return named_cell(wb, name).coordinate
    finally:
        wb.close()


def digests(root: Path) -> dict[bytes, str]:
    """SHA-256 of every file under `root` by its path as bytes (names need not be UTF-8); links
    by where they point, folders by their mode (a locked one stays locked): what a run must
    leave exactly as it found it."""
    out = {}
    for dirpath, dirs, files in os.walk(os.fsencode(root)):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                out[path] = "-> " + os.fsdecode(os.readlink(path))
            elif os.path.isdir(path):
                out[path] = oct(os.stat(path).st_mode)
            else:
                with open(path, "rb") as fh:
                    out[path] = hashlib.sha256(fh.read()).hexdigest()
    return out


def texts_of(path: Path) -> set[str]:
    """Every text cell of every sheet of the workbook at `path`."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {
            cell
            for ws in wb.worksheets
            for row in ws.iter_rows(values_only=True)
            for cell in row
            if isinstance(cell, str)
        }
    finally:
        wb.close()


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed command, outside the repository and without PERFEVAL_XL_FORMS."""
    environ = {k: v for k, v in os.environ.items() if k != "PERFEVAL_XL_FORMS"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "perfeval_xl", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


#: The header of a department's 审核结果.xlsx (feedback), on row 4.
RESULTS_HEADER = (
    "序号",
    "实施单位",
    "项目名称",
    "审核结果",
    "错误",
    "警告",
    "收到的文件",
    "退回的工作簿",
)


def results_rows(path: Path) -> list[tuple]:
    """The rows of a 审核结果.xlsx under its header (which must be `RESULTS_HEADER`)."""
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    assert rows[0] == RESULTS_HEADER
    return rows[1:]


def review_findings(path: Path) -> list[tuple]:
    """The findings a returned workbook's 审核意见 lists, from the table under 序号 … 如何改正:
    (类别 as "错误 E301", 位置 (None for none), 问题)."""
    from perfeval_xl.office.feedback import REVIEW_SHEET

    ws = openpyxl.load_workbook(path)[REVIEW_SHEET]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    start = rows.index(["序号", "类别", "位置", "问题", "如何改正"]) + 1
    out = []
    for r in rows[start:]:
        if not r[0]:
            break
        out.append((r[1], r[2], r[3]))
    return out


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    """A roster as CSV, one list a row (None as an empty cell)."""
    text = "".join(",".join("" if c is None else str(c) for c in r) + "\n" for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    """A roster as XLSX (openpyxl), one list a row."""
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path
