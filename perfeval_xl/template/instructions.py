"""The 填报说明 sheet, generated from the spec so it can never disagree with the form."""

from __future__ import annotations

from ..forms.spec import Spec

Row = tuple[str, list[str]]


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def instruction_rows(spec: Spec) -> list[Row]:
    """Rows for the instructions sheet: (kind, cells), kind being "title", "head" or "text"."""
    rows: list[Row] = [
        ("title", [f"填报说明：{spec.title}"]),
        ("text", ["表式", f"{spec.description}（表式 {spec.id}，第 {spec.version} 版）", ""]),
        ("text", ["黄色单元格", "由填报单位填写；有下拉箭头的单元格请从列表中选择。", ""]),
        ("text", ["蓝色单元格", "由财政部门预填，已锁定，不能修改；如有错误请联系财政部门。", ""]),
        ("text", ["灰色单元格", "自动计算（合计、执行率、得分），已锁定。", ""]),
        (
            "text",
            [
                "自检",
                "表格第二行的自检单元格统计财政部门审核时会判为错误的问题数（必填项未填、"
                "执行数超过预算数、指标缺栏目或缺偏差原因、分值或得分不符合规则等），"
                "问题单元格标为红色；橙色为提醒，不计数。提交前请确认显示“未发现问题”。"
                "“不少于12次”这类文字写法的指标值，其得分由财政部门复核。",
                "",
            ],
        ),
        (
            "text",
            [
                "注意",
                "请勿插入或删除行、列，勿复制整行粘贴；粘贴的内容会绕过下拉校验，"
                "收集时仍会逐项复核。",
                "",
            ],
        ),
        ("title", ["栏目说明"]),
        ("head", ["栏目", "填写要求", "限制"]),
    ]
    for f in spec.header:
        limit = "四位整数年份" if f.type == "year" else f"不超过 {f.max_length} 字"
        need = "" if f.required else "（可空）"
        rows.append(("text", [f.label, (f.help or "") + need, limit]))
    unit = spec.amount_unit
    for c in spec.fund_columns:
        what = {
            "amount": f"按资金来源填写，单位{unit}；合计行自动求和",
            "rate": "自动计算：执行数 ÷ 预算数",
            "exec_weight": f"执行率分值 {spec.exec_weight:g} 分",
            "exec_score": f"自动计算：min(执行率, 100%) × {spec.exec_weight:g}",
            "exec_reason": f"执行率低于 {_pct(spec.exec_reason_below)} 时须说明原因",
        }[c.kind]
        limit = {"amount": "不小于 0 的数字", "exec_reason": f"不超过 {c.max_length} 字"}.get(
            c.kind, ""
        )
        rows.append(("text", [c.label, what, limit]))
    g = spec.goals
    if g is not None:
        rows.append(
            ("text", [g.expected_label, "年初设定的年度总体目标", f"不超过 {g.max_length} 字"])
        )
        rows.append(
            ("text", [g.actual_label, "对照预期目标写明实际完成情况", f"不超过 {g.max_length} 字"])
        )
    if spec.department:
        return rows + _department_rows(spec)
    hints = {
        "level1": ("从下拉列表选择", "见下表"),
        "level2": ("须属于所选一级指标，从下拉列表选择", "见下表"),
        "name": ("具体指标名称", None),
        "sign": ("指标性质：" + " ".join(spec.signs), "从列表选择"),
        "target": ("量化的年度指标值（数字和单位），或写明定性；勿填 XX、* 等占位符", None),
        "unit": ("度量单位，如 次、%、万元", None),
        "actual": ("实际完成的数值或情况；定量指标请填数字", None),
        "status": ("、".join(spec.statuses), "从列表选择"),
        "weight": ("本行分值（权重）", f"0–{spec.score_total:g}"),
        "score": ("自评得分，不得超过本行分值", f"0–{spec.score_total:g}"),
        "reason": (f"完成状态不是“{spec.complete_status}”或未得满分时必填", None),
    }
    for c in spec.indicator_columns:
        # an extra free-text column (kind = "text") is explained by its own help
        text, limit = hints[c.key] if not c.extra else (c.help or "文字说明", None)
        rows.append(("text", [c.label, text, limit or f"不超过 {c.max_length} 字"]))
    for f in spec.footer:
        rows.append(("text", [f.label, f.help, f"不超过 {f.max_length} 字"]))

    rows.append(("title", ["指标体系"]))
    rows.append(("head", ["一级指标", "二级指标", "分值" if spec.scored else "参考权重"]))
    for l1 in spec.level1:
        rows.append(("text", [l1.label, "、".join(l1.level2), f"{l1.weight:g}"]))
    rows.append(("text", ["预算执行率", "", f"{spec.exec_weight:g}"]))

    rows.append(
        ("title", ["评分规则" if spec.scored else "评分规则（本表无分值列，由财政部门按此计算）"])
    )
    rows.append(("head", ["规则", "说明", ""]))
    rows.append(
        ("text", ["预算执行率", f"得分 = min(执行数 ÷ 预算数, 100%) × {spec.exec_weight:g}", ""])
    )
    rows.append(
        ("text", ["正向指标（≥ >）", "实际值 ≥ 指标值得满分，否则按 实际值 ÷ 指标值 × 分值", ""])
    )
    reverse = (
        "超出时线性递减，达到指标值 2 倍时为 0"
        if spec.reverse_rule == "linear"
        else "超出时按 指标值 ÷ 实际值 × 分值"
    )
    rows.append(("text", ["反向指标（≤ <）", f"实际值 ≤ 指标值得满分；{reverse}", ""]))
    for status, (lo, hi) in spec.qualitative_bands.items():
        rows.append(("text", [f"定性指标：{status}", f"得分为分值的 {_pct(lo)}–{_pct(hi)}", ""]))
    grades = "；".join(f"{g.label} ≥ {g.min:g}" for g in spec.grades)
    rows.append(("text", ["等级", grades, ""]))
    return rows


def _department_rows(spec: Spec) -> list[Row]:
    """The columns and rules of a department form (部门整体): its rows are the office's."""
    rows: list[Row] = []
    for c in spec.indicator_columns:
        if c.key == "score":
            text, limit = "按本行“评分标准”自评的得分，不得超过本行分值", "0–本行分值"
        elif c.key == "reason":
            text, limit = "自评得分低于本行分值时必填，写明扣分原因", f"不超过 {c.max_length} 字"
        else:
            text, limit = "财政部门预设，已锁定", ""
        rows.append(("text", [c.label, text, limit]))
    rows.append(("title", ["指标体系"]))
    rows.append(("head", ["一级指标", "二级指标", "分值"]))
    for l1 in spec.level1:
        weights = dict(l1.level2_weights)
        level2 = "、".join(f"{x}（{weights[x]:g}分）" if x in weights else x for x in l1.level2)
        rows.append(("text", [l1.label, level2, f"{l1.weight:g}"]))
    rows.append(("title", ["评分规则"]))
    rows.append(("head", ["规则", "说明", ""]))
    rows.append(
        (
            "text",
            [
                "自评得分",
                f"逐项按“评分标准”自评，合计为自评总分（满分 {spec.score_total:g}）；"
                "财政部门按评分标准复核",
                "",
            ],
        )
    )
    grades = "；".join(f"{g.label} ≥ {g.min:g}" for g in spec.grades)
    rows.append(("text", ["等级", grades, ""]))
    return rows
