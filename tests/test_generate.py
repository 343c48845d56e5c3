"""Structure of generated templates, for every profile: protection, exactly the input cells
unlocked, validations, the named-range contract, identity, print setup, determinism."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from helpers import ISSUED, named_cell, open_xlsx
from openpyxl.utils import range_boundaries

from perfeval_xl import build_template, contract_names, load_spec, make_layout
from perfeval_xl.forms.layout import Area
from perfeval_xl.template.generate import CREATED, excel_safe_name, issuable_fields, workbook_id
from perfeval_xl.template.xlsxpost import PRIVATE_STEPS, legacy_password_hash

#: Names the issue requires on every form, and those where the form has the part.
ALWAYS = [
    "pe_year",
    "pe_project_name",
    "pe_project_code",
    "pe_dept_name",
    "pe_dept_code",
    "pe_unit_name",
    "pe_goal_expected",
    "pe_goal_actual",
    "pe_fund_total_budget",
    "pe_fund_total_spent",
    "pe_exec_rate",
    *(f"pe_ind_{k}" for k in ("level1", "level2", "name", "target", "actual", "status", "reason")),
]
SCORED = ["pe_exec_score", "pe_total_score", "pe_ind_weight", "pe_ind_score"]
SEED_ISSUED = {**ISSUED, "fund_other_budget": 14.56}


def input_areas(form_id: str, issued: dict) -> list[Area]:
    """Where a unit may type, worked out from the spec and layout (not from the generator)."""
    spec = load_spec(form_id)
    lay = make_layout(spec)
    areas = [v for name, (_, v) in lay.header.items() if name not in issued]
    areas += [lay.goal_actual] + ([] if "goal_expected" in issued else [lay.goal_expected])
    for r in spec.source_rows:
        for c in spec.amount_columns:
            if f"fund_{r.key}_{c.key}" not in issued:
                areas.append(lay.fund_cell(r.key, c.key))
    reason = spec.fund_column("exec_reason")
    if reason:
        top = lay.fund_cell("total", reason.key)
        areas.append(
            Area(top.first_row, top.first_col, lay.fund_rows[spec.fund_rows[-1].key], top.last_col)
        )
    areas += [lay.indicator_column(k) for k in spec.indicator_keys]
    areas += [v for _, v in lay.footer.values()]
    return areas


def unlocked_cells(ws) -> set[tuple[int, int]]:
    return {
        (c.row - 1, c.column - 1)
        for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=ws.max_column)
        for c in row
        if c.protection.locked is False
    }


@pytest.mark.parametrize("issued", [{}, SEED_ISSUED], ids=["blank", "prefilled"])
def test_exactly_the_input_cells_are_unlocked(form_id, issued):
    wb = open_xlsx(build_template(load_spec(form_id), issued))
    exp = {cell for area in input_areas(form_id, issued) for cell in area.cells()}
    assert unlocked_cells(wb[load_spec(form_id).sheet]) == exp
    for other in ("填报说明", "_lists", "_meta"):
        assert unlocked_cells(wb[other]) == set()


def test_sheets_protection_and_structure(form_id, templates):
    data = templates[form_id]
    wb = open_xlsx(data)
    spec = load_spec(form_id)
    assert wb.sheetnames == [spec.sheet, "填报说明", "_lists", "_meta"]
    assert [ws.sheet_state for ws in wb.worksheets] == [
        "visible",
        "visible",
        "veryHidden",
        "veryHidden",
    ]
    pw = legacy_password_hash("perfeval")
    for ws in wb.worksheets:
        assert ws.protection.sheet is True, ws.title
        assert ws.protection.password == pw, ws.title
    form = wb[spec.sheet].protection
    assert (form.formatRows, form.formatColumns) == (False, False)  # False = allowed
    assert (form.insertRows, form.deleteRows, form.insertColumns) == (True, True, True)
    assert wb.security.lockStructure is True
    assert wb.security.workbookPassword == pw
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml").decode()
    # Schema order: workbookPr, then workbookProtection, then bookViews.
    assert re.search(r"<workbookPr [^>]*/><workbookProtection [^>]*/><bookViews>", xml)


def test_the_private_steps_of_xlsxwriter_we_override_are_still_there():
    # xlsxpost overrides them; renamed in a new xlsxwriter, the overrides would go unused
    # silently (no structure protection, cached results written, names checked each time)
    for cls, names in PRIVATE_STEPS.items():
        for name in names:
            assert callable(vars(cls).get(name)), f"{cls.__name__}.{name}"


@pytest.mark.parametrize("form", ["national-2020", "department-2023"])
def test_sheets_written_once_per_form_are_the_bytes_they_would_be(form):
    # xlsxpost.CachedSheet reuses the instruction and list sheets' XML, FormSheet its prepared
    # formulas, FormBook its checked names: with every cache cold, the same bytes
    from perfeval_xl.template import xlsxpost

    spec = load_spec(form)
    issued = {"project_name": "项目", "dept_code": "109101"} if not spec.department else {}
    warm = [build_template(spec, issued, password=pw) for pw in ("perfeval", "另一个")]
    again = [build_template(spec, issued, password=pw) for pw in ("perfeval", "另一个")]
    for cache in (xlsxpost._SHEET_XML, xlsxpost._NAMES, xlsxpost._PREPARED):
        cache.clear()
    cold = [build_template(spec, issued, password=pw) for pw in ("perfeval", "另一个")]
    assert warm == again == cold
    assert warm[0] != warm[1]  # the password is part of a cached sheet's key
    with zipfile.ZipFile(io.BytesIO(cold[1])) as z:
        help_xml = z.read("xl/worksheets/sheet2.xml").decode()
    assert legacy_password_hash("另一个") in help_xml


def test_password_option_and_no_password():
    spec = load_spec("national-2020")
    wb = open_xlsx(build_template(spec, password="秘密-2022"))
    assert wb["自评表"].protection.password == legacy_password_hash("秘密-2022")
    assert wb.security.workbookPassword == legacy_password_hash("秘密-2022")
    wb = open_xlsx(build_template(spec, password=""))
    assert wb["自评表"].protection.sheet is True and not wb["自评表"].protection.password
    assert wb.security.lockStructure is True and wb.security.workbookPassword is None


@pytest.mark.parametrize(
    ("password", "exp"), [("", "CE4B"), ("password", "83AF"), ("perfeval", "8767")]
)
def test_legacy_password_hash(password, exp):
    # "password" -> 83AF is the worked example of ECMA-376 / Excel's documentation.
    assert legacy_password_hash(password) == exp


def test_contract_names_resolve(form_id, templates):
    spec = load_spec(form_id)
    wb = open_xlsx(templates[form_id])
    exp = contract_names(make_layout(spec))
    for name in ALWAYS + (SCORED if spec.scored else []):
        assert name in exp, name
    for r in spec.fund_rows:
        for c in spec.amount_columns:
            assert f"pe_fund_{r.key}_{c.key}" in exp
    assert ("pe_exec_reason" in exp) is (form_id == "sichuan-2023")
    assert ("pe_ind_sign" in exp and "pe_ind_unit" in exp) is (form_id == "sichuan-2023")
    for name, area in exp.items():
        dest = list(wb.defined_names[name].destinations)
        assert dest == [(spec.sheet, area.a1())], name
        assert wb.defined_names[name].localSheetId is None, name  # workbook scoped
    heights = {a.last_row - a.first_row for n, a in exp.items() if n.startswith("pe_ind_")}
    assert heights == {spec.indicator_rows - 1} and spec.indicator_rows >= 20


def test_rows_option_resizes_every_indicator_column():
    spec = load_spec("sichuan-2023")
    wb = open_xlsx(build_template(spec, indicator_rows=5))
    for key in spec.indicator_keys:
        (_, ref) = next(wb.defined_names[f"pe_ind_{key}"].destinations)
        first, last = ref.replace("$", "").split(":")
        assert int(last[1:] if last[1].isdigit() else last[2:]) - int(re.sub(r"\D", "", first)) == 4


def validations(ws) -> dict[str, tuple]:
    got = {}
    for dv in ws.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            got[rng] = (
                dv.type,
                dv.operator,
                dv.formula1,
                dv.formula2,
                dv.errorStyle,
                bool(dv.prompt),
            )
    return got


def test_validations(form_id, templates):
    spec = load_spec(form_id)
    lay = make_layout(spec)
    names = contract_names(lay)
    got = validations(open_xlsx(templates[form_id])[spec.sheet])

    def at(name):
        return names[name].a1(absolute=False)

    exp = {}
    for f in spec.header:
        if f.type == "year":
            exp[at(f"pe_{f.name}")] = ("whole", None, "2000", "2100")
        else:
            exp[at(f"pe_{f.name}")] = ("textLength", "lessThanOrEqual", str(f.max_length), None)
    for g in ("pe_goal_expected", "pe_goal_actual"):
        exp[at(g)] = ("textLength", "lessThanOrEqual", str(spec.goals.max_length), None)
    for r in spec.source_rows:
        for c in spec.amount_columns:
            exp[at(f"pe_fund_{r.key}_{c.key}")] = ("decimal", None, "0", "10000000000")
    if spec.fund_column("exec_reason"):
        exp[at("pe_exec_reason")] = ("textLength", "lessThanOrEqual", "200", None)
    first = lay.first_indicator_row + 1
    for c in spec.indicator_columns:
        rng = at(f"pe_ind_{c.key}")
        exp[rng] = {
            "level1": ("list", None, "pe_list_level1", None),
            "level2": (
                "list",
                None,
                f'INDIRECT(IFERROR(VLOOKUP($B{first},pe_map_level1,2,FALSE),"pe_list_level2"))',
                None,
            ),
            "status": ("list", None, "pe_list_status", None),
            "sign": ("list", None, "pe_list_sign", None),
            "weight": ("decimal", None, "0", "100"),
            "score": ("decimal", None, "0", "100"),
        }.get(c.key, ("textLength", "lessThanOrEqual", str(c.max_length), None))
    for f in spec.footer:
        exp[at(f"pe_{f.name}")] = ("textLength", "lessThanOrEqual", str(f.max_length), None)
    assert {k: v[:4] for k, v in got.items()} == exp
    # errorStyle absent means "stop", the schema default: no value can be typed past the rule.
    assert all(v[4] in (None, "stop") and v[5] for v in got.values())


def test_dropdown_lists_come_from_ranges(form_id, templates):
    spec = load_spec(form_id)
    wb = open_xlsx(templates[form_id])

    def items(name):
        sheet, ref = next(wb.defined_names[name].destinations)
        c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
        rows = wb[sheet].iter_rows(min_row=r1, max_row=r2, min_col=c1, max_col=c2, values_only=True)
        return [v for row in rows for v in row]

    assert items("pe_list_level1") == [x.label for x in spec.level1]
    assert items("pe_list_status") == list(spec.statuses)
    assert items("pe_list_level2") == [y for x in spec.level1 for y in x.level2]
    mapping = items("pe_map_level1")
    for l1 in spec.level1:
        safe = mapping[mapping.index(l1.label) + 1]
        assert items(safe) == list(l1.level2)
    if spec.signs:
        assert items("pe_list_sign") == list(spec.signs)
    xml = zipfile.ZipFile(io.BytesIO(templates[form_id])).read("xl/worksheets/sheet1.xml").decode()
    for formula in re.findall(r"<formula1>(.*?)</formula1>", xml):
        assert not formula.startswith("&quot;"), "inline lists are limited to 255 characters"


@pytest.mark.parametrize(
    ("label", "exp"),
    [
        ("产出指标", "pe_l2_产出指标"),
        ("Q1", "pe_l2_Q1"),
        ("成本指标（50分）", "pe_l2_成本指标_50分"),
        ("社会 效益/指标", "pe_l2_社会_效益_指标"),
        ("！！！", "pe_l2_x"),
        ("A1:B2", "pe_l2_A1_B2"),
    ],
)
def test_excel_safe_name(label, exp):
    got = excel_safe_name("pe_l2_", label, set())
    assert got == exp
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\u4e00-\u9fff]*", got)


def test_excel_safe_names_are_unique():
    taken: set[str] = set()
    got = [excel_safe_name("pe_l2_", label, taken) for label in ("a b", "a/b", "A_B")]
    assert got == ["pe_l2_a_b", "pe_l2_a_b_2", "pe_l2_A_B_3"]


def test_identity_in_properties_and_meta_sheet(form_id, templates):
    spec = load_spec(form_id)
    wb = open_xlsx(templates[form_id])
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    wid = workbook_id(spec, {}, spec.indicator_rows)
    assert props == {
        "perfeval_form_id": form_id,
        "perfeval_spec_version": str(spec.version),
        "perfeval_workbook_id": wid,
        "perfeval_generator": props["perfeval_generator"],
        "perfeval_spec_sha256": spec.digest,
    }
    assert props["perfeval_generator"].startswith("perfeval-xl ")
    assert named_cell(wb, "pe_meta_form_id").value == form_id
    assert named_cell(wb, "pe_meta_spec_version").value == spec.version
    assert named_cell(wb, "pe_meta_workbook_id").value == wid
    assert wb.properties.created == CREATED


def test_issued_values_are_written_locked_and_as_text():
    spec = load_spec("national-2020")
    issued = {
        **SEED_ISSUED,
        "project_name": '=HYPERLINK("http://x","点我")',
        "unit_name": "+cmd|' /C calc'!A0",
        # xlsxwriter copies a shared string "<r>…</r>" as rich-text XML: it must stay text
        "dept_name": "<r><t>x</t></r></si><si><t>y</t></r>",
    }
    data = build_template(spec, issued)
    wb = open_xlsx(data)
    for name, value in issued.items():
        cell = named_cell(wb, f"pe_{name}")
        assert cell.value == value, name
        assert cell.protection.locked is True, name
    assert named_cell(wb, "pe_project_name").data_type == "s"
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "HYPERLINK" not in sheet  # it is a shared string, never a formula
    assert workbook_id(spec, issued, 20) != workbook_id(spec, SEED_ISSUED, 20)


def test_unknown_issued_field_is_a_programming_error():
    with pytest.raises(ValueError, match="fund_total_budget"):
        build_template(load_spec("national-2020"), {"fund_total_budget": 1})


def test_issuable_fields_labels():
    got = issuable_fields(load_spec("national-2020"))
    assert got["fund_fiscal_budget"] == "当年财政拨款全年预算数"
    assert got["fund_carryover_initial"] == "上年结转资金年初预算数"
    assert "fund_fiscal_spent" not in got and "fund_total_budget" not in got
    assert got["goal_expected"] == "预期目标"


def test_formulas_carry_cached_values():
    spec = load_spec("national-2020")
    data = build_template(spec, SEED_ISSUED)
    wb = open_xlsx(data)
    assert named_cell(wb, "pe_fund_total_budget").value.startswith("=IF(COUNT(")
    cached = open_xlsx(data, data_only=True)
    assert named_cell(cached, "pe_fund_total_budget").value == 114.56
    # the errors `check` reports on the template as issued: nothing spent (E304), no indicator
    # (E414); tests/test_selfcheck_parity.py compares the two on every form
    assert named_cell(cached, "pe_selfcheck").value == 2
    assert named_cell(cached, "pe_exec_weight").value == 10


def test_conditional_formats(form_id, templates):
    """The problem marks: one rule over the indicator rows, one over every single cell the
    自检 counts (selfcheck.py; tests/test_selfcheck_parity.py says they land where `check`'s
    findings do), the orange W305 mark where the form has a reason for low execution, and the
    自检 cell's own red / green."""
    spec = load_spec(form_id)
    lay = make_layout(spec)
    ws = open_xlsx(templates[form_id])[spec.sheet]
    got = {str(cf.sqref): [r.formula[0] for r in cf.rules] for cf in ws.conditional_formatting}
    cols = lay.indicator_cols.values()
    table = Area(lay.first_indicator_row, min(cols), lay.last_indicator_row, max(cols))
    assert got[table.a1(absolute=False)] == ["_pr_mark>0"]
    (cells,) = [ref for ref, rules in got.items() if rules == ["_ps_mark>0"]]
    spent = lay.fund_cell("fiscal", "spent").anchor().a1(absolute=False)
    name = contract_names(lay)["pe_project_name"].a1(absolute=False)
    assert {spent, name} <= set(cells.split())
    reason = spec.fund_column("exec_reason")
    warn = [r for r in got.values() if any(f.startswith("AND(ISNUMBER(") for f in r)]
    assert len(warn) == (reason is not None)
    check = contract_names(lay)["pe_selfcheck"].a1(absolute=False)
    assert len(got[check]) == 2


def test_print_setup(form_id, templates):
    spec = load_spec(form_id)
    lay = make_layout(spec)
    ws = open_xlsx(templates[form_id])[spec.sheet]
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.paperSize == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert ws.page_setup.fitToHeight == 0 and ws.page_setup.fitToWidth in (None, 1)
    row = lay.indicators_header_row + 1
    assert ws.print_title_rows == f"${row}:${row}"
    assert ws.print_area == f"'{spec.sheet}'!{lay.printed.a1()}"


def test_same_inputs_same_bytes(form_id):
    spec = load_spec(form_id)
    assert build_template(spec, SEED_ISSUED) == build_template(spec, SEED_ISSUED)
    assert build_template(spec) != build_template(spec, SEED_ISSUED)


def test_instructions_sheet_follows_the_spec(form_id, templates):
    spec = load_spec(form_id)
    ws = open_xlsx(templates[form_id])["填报说明"]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    for col in spec.indicator_columns:
        assert col.label in text
    for l1 in spec.level1:
        assert "、".join(l1.level2) in text
    assert f"表式 {spec.id}" in text
