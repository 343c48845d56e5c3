"""Findings: what a check says about a workbook, as data, with stable codes.

A finding is never an exception: one bad file or one bad cell must not stop a batch, and the
summary lists findings like any other data. Every code is registered here once, with its
severity and the text of `docs/rules.md` (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Text

ERROR = "error"
WARNING = "warning"
#: A note, not a problem: what the tool did that the clerk should know (I…), such as reading a
#: workbook by the spec it carries. Never counted as an error or a warning.
INFO = "info"


@dataclass(frozen=True)
class Rule:
    """A registered check: code (E… error, W… warning, I… note), what it checks, why, how to
    fix."""

    code: str
    severity: str
    what: Text
    why: Text
    fix: Text


RULES: dict[str, Rule] = {}


def _rule(code: str, what: tuple[str, str], why: tuple[str, str], fix: tuple[str, str]) -> None:
    severity = {"E": ERROR, "W": WARNING, "I": INFO}[code[0]]
    RULES[code] = Rule(code, severity, Text(*what), Text(*why), Text(*fix))


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one file, located as precisely as known (sheet and A1 cell)."""

    code: str
    severity: str
    file: str
    sheet: str | None
    cell: str | None
    field: str | None
    message: Text

    def __reduce__(self) -> tuple:
        # constructor arguments: see record.Field.__reduce__
        return (
            Finding,
            (self.code, self.severity, self.file, self.sheet, self.cell, self.field, self.message),
        )

    @property
    def location(self) -> str:
        """`自评表!C7`, `自评表`, or "" when the problem is the file itself; in a Word annex
        `表2 第9行「实际完成指标值」` (a table has no A1 cells: its row and column as shown)."""
        if self.sheet and self.cell:
            sep = "!" if self.cell[:1].isascii() else " "
            return f"{self.sheet}{sep}{self.cell}"
        return self.sheet or ""

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The JSON shape of a finding."""
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "sheet": self.sheet,
            "cell": self.cell,
            "field": self.field,
            "message": self.message.render(lang),
        }


def finding(
    code: str,
    file: str,
    message: Text,
    *,
    sheet: str | None = None,
    cell: str | None = None,
    field: str | None = None,
) -> Finding:
    """A finding for a registered `code` (KeyError for an unregistered one: a bug)."""
    return Finding(code, RULES[code].severity, file, sheet, cell, field, message)


# -- the file itself ---------------------------------------------------------------------------
_rule(
    "E001",
    (
        "文件无法作为 xlsx 读取（空文件、损坏、截断或不是 Excel 文件）",
        "the file cannot be read as xlsx (empty, damaged, truncated or not a workbook)",
    ),
    ("读不出内容就无法审核", "nothing can be checked in a file that cannot be read"),
    (
        "在 Excel/WPS 中打开并另存为 .xlsx 后重新提交",
        "open it in Excel/WPS, save as .xlsx and send it again",
    ),
)
_rule(
    "E002",
    (
        "不支持的文件格式（.xls、.et、.ods、.xlsb、CSV 等）",
        "unsupported format (.xls, .et, .ods, .xlsb, CSV …)",
    ),
    (
        "模板的命名区域、校验和保护只在 .xlsx 中保留",
        "names, validations and protection of the template survive only in .xlsx",
    ),
    (
        "用原模板填写，另存为 Excel 工作簿（.xlsx）",
        "fill the original template and save it as an Excel workbook (.xlsx)",
    ),
)
_rule(
    "E003",
    ("工作簿设置了打开密码（已加密）", "the workbook is encrypted (has an open password)"),
    ("加密文件无法读取", "an encrypted file cannot be read"),
    ("取消“用密码进行加密”后重新保存", "remove the open password and save again"),
)
_rule(
    "E004",
    (
        "启用宏的工作簿（.xlsm 或含 VBA），不予读取",
        "macro-enabled workbook (.xlsm or VBA inside): refused",
    ),
    (
        "宏可能携带恶意代码；本工具从不运行宏",
        "macros can carry malicious code; this tool never runs them",
    ),
    ("另存为不含宏的 .xlsx", "save as a macro-free .xlsx"),
)
_rule(
    "E005",
    (
        "文件过大或压缩比异常（疑似压缩炸弹），已拒绝",
        "file too large or abnormally compressed (zip bomb?): refused",
    ),
    ("解压这样的文件会耗尽内存和时间", "inflating such a file would exhaust memory and time"),
    (
        "用原模板重新填写；真实的自评表远小于这些上限",
        "fill the original template again; real forms are far below the limits",
    ),
)
_rule(
    "E006",
    (
        "文件含不安全的 XML（实体定义或外部引用），已拒绝",
        "unsafe XML (entity definitions or external references): refused",
    ),
    ("这类 XML 可用于攻击读取它的电脑", "such XML is used to attack the computer that reads it"),
    ("用原模板重新填写", "fill the original template again"),
)
_rule(
    "E007",
    (
        "不是 perfeval-xl 生成的模板（找不到表式标识）",
        "not a perfeval-xl template (no form id found)",
    ),
    ("只有模板中的命名区域能被可靠读取", "only the template's named ranges can be read reliably"),
    ("向财政部门索取模板并在模板中填写", "ask the finance office for the template and fill that"),
)
_rule(
    "E008",
    ("未知的表式", "unknown form"),
    ("不知道表式就不知道按什么规则审核", "without its form the rules to apply are unknown"),
    (
        "使用本工具当前版本生成的模板，或升级本工具",
        "use a template from this version of the tool, or upgrade the tool",
    ),
)
_rule(
    "W009",
    ("Excel/WPS 的临时锁定文件（~$ 开头），已跳过", "an Excel/WPS lock file (~$…): skipped"),
    (
        "工作簿打开时 Excel 会生成它，它不含数据；不算作无法读取的文件",
        "Excel creates it while a workbook is open; it holds no data and is not counted unreadable",
    ),
    ("关闭工作簿后删除该文件", "close the workbook and delete the file"),
)
_rule(
    "W010",
    ("模板版本与本工具的表式版本不同", "the template's version differs from this tool's spec"),
    ("旧模板可能缺少新的栏目或规则", "an old template may lack newer fields or rules"),
    (
        "下一年度使用新模板；本次仍按命名区域读取",
        "use a new template next time; it is read by name this time",
    ),
)
_rule(
    "E011",
    ("模板的命名区域缺失或失效", "named ranges of the template are missing or broken"),
    (
        "工具按名称查找每个栏目；缺少名称的栏目无法读取",
        "every field is found by its name; a field without one cannot be read",
    ),
    (
        "不要删除行列或复制整张表；在原模板中重新填写",
        "do not delete rows, columns or copy the sheet; fill the original template",
    ),
)
_rule(
    "W012",
    ("工作表保护已被取消", "sheet protection was removed"),
    (
        "取消保护后，财政部门预填的内容可能被改动",
        "without protection the office's pre-filled values may have been changed",
    ),
    (
        "在原模板中重新填写，或请财政部门核对预填内容",
        "fill the original template, or ask the office to verify its values",
    ),
)
_rule(
    "W013",
    ("数据有效性（下拉列表或输入限制）被删除", "data validation (dropdowns or limits) was removed"),
    (
        "粘贴整行或整列会同时删除有效性；内容仍会被逐项复核",
        "pasting rows or columns deletes validation; the values are re-checked anyway",
    ),
    (
        "用“选择性粘贴—数值”，不要粘贴整行",
        "use Paste Special → Values instead of pasting whole rows",
    ),
)
_rule(
    "E014",
    (
        "指标表结构异常：各列行数不一致（插入或删除了部分单元格），或超过 500 行",
        "indicator table damaged: columns of different heights, or over 500 rows",
    ),
    ("各列第 i 行必须是同一个指标", "row i of every indicator column must be the same indicator"),
    (
        "在原模板中重新填写指标，不要插入或删除单元格",
        "fill the indicators in the original template without inserting or deleting cells",
    ),
)
_rule(
    "W015",
    (
        "工作簿含外部链接或数据连接，已忽略",
        "external links or data connections in the workbook: ignored",
    ),
    (
        "本工具从不访问链接指向的文件或网址；汇总只用单元格中的值",
        "the tool never opens what they point to; only cell values are used",
    ),
    (
        "粘贴时使用“选择性粘贴—数值”，删除外部链接",
        "paste values only, and remove the external links",
    ),
)
_rule(
    "W016",
    (
        "指标表的行数与下发的模板不同（插入或删除了行）",
        "the indicator table has more or fewer rows than the issued template",
    ),
    (
        "插入行须先取消工作表保护；命名区域会随之伸缩，值仍能读出，但表格已不是下发的样子",
        "inserting rows needs protection removed; the names follow, so values are still read, but the form is no longer the issued one",
    ),
    (
        "在原模板中填写；需要更多行时请财政部门用 --rows 重新下发",
        "fill the original template; ask the office to issue one with more --rows",
    ),
)
_rule(
    "E017",
    (
        "同一个命名区域有多个定义，指向不同的单元格（重复定义，或工作表级名称与工作簿级名称同名）",
        "a named range is defined more than once, pointing at different cells (twice in the "
        "workbook, or a sheet's own name beside the workbook's)",
    ),
    (
        "无法确定哪个单元格是填报内容；该栏目不予读取，按未填处理，以免汇总用错单元格的值",
        "which cell holds the value cannot be known; the field is not read and counts as not "
        "filled in, so that no other cell's value reaches the summary",
    ),
    (
        "不要复制工作表或修改名称；用下发的原模板重新填写",
        "do not copy the sheet or edit the names; fill the issued template again",
    ),
)
_rule(
    "W018",
    (
        "模板的隐藏工作表 _lists（下拉列表选项）或 _meta（模板标识）已被删除或改名",
        "a hidden sheet of the template, _lists (dropdown choices) or _meta (its identity), "
        "was deleted or renamed",
    ),
    (
        "内容仍按名称读取，但下拉列表可能没有选项，下发行数和签名信息随 _meta 丢失（用 --key "
        "时另报 E701）",
        "values are still read by name, but the dropdowns may have no choices, and the issued "
        "row count and signature go with _meta (E701 besides, with --key)",
    ),
    ("用下发的原模板重新填写", "fill the issued template again"),
)
_rule(
    "W020",
    (
        "工作簿内嵌的表式与本机安装的同一表式同一版本规则不同",
        "the spec a workbook carries differs from the one installed for its id and version",
    ),
    (
        "模板生成后表式又被修改，或内嵌的表式被改动；审核以财政部门安装的表式为准",
        "the form changed after the template was made, or the embedded spec was altered; the "
        "office's installed spec is the one checked by",
    ),
    (
        "确认本机的表式（--forms 文件夹或内置表式）是本年度要用的；必要时用它重新下发模板",
        "make sure the installed spec (--forms folder or built-in) is this year's; issue the "
        "templates again from it if needed",
    ),
)
_rule(
    "W021",
    (
        "工作簿内嵌的表式无法使用（被改动、不完整、无效或与工作簿标识不符）",
        "the spec a workbook carries cannot be used (altered, incomplete, invalid, or not the "
        "workbook's form)",
    ),
    (
        "内嵌表式由单位的文件带来，须与记录的 SHA-256 一致并通过与表式文件相同的校验；"
        "本机没有该表式时，原因写在 E008 中",
        "the embedded spec comes with the unit's file: it must match the SHA-256 recorded with "
        "it and pass the checks any spec file passes; where no installed spec serves, E008 "
        "says why",
    ),
    (
        "本次按本机安装的表式审核；请核实该单位是否改动了模板，必要时用下发的原模板重新填写",
        "it was checked by the installed spec this time; ask whether the unit altered the "
        "template, and have it fill the issued one again if needed",
    ),
)
_rule(
    "I022",
    (
        "本机没有该表式，按工作簿内嵌的表式读取和审核",
        "the form is not installed here: read and checked by the spec the workbook carries",
    ),
    (
        "模板生成时会把表式写入工作簿；本机未安装时据此读取，结果与安装该表式时相同",
        "a template carries the spec it was made from; read by it, the result is the same as "
        "with that spec installed",
    ),
    (
        "无需改正；要按自己的表式审核，把表式文件放入 --forms 文件夹",
        "nothing to correct; to check by a spec of your own, put it into the --forms folder",
    ),
)
_rule(
    "E023",
    (
        "Word 文档中没有自评表（找不到「项目名称」和指标表表头的表格），未读取",
        "the Word document holds no self-evaluation table (no table with 项目名称 and an "
        "indicator header): nothing was read",
    ),
    (
        "发布的附件按表格读取：每张自评表须有项目名称、资金、总体目标和指标表表头",
        "a published annex is read by its tables: each form table has 项目名称, the funds, "
        "the goals and an indicator header row",
    ),
    (
        "提交含自评表的 .docx 附件，或用下发的 Excel 模板填写",
        "send the .docx annex that holds the form tables, or fill the issued Excel template",
    ),
)
_rule(
    "E025",
    (
        "Word 附件中某项目的表格找不到指标表表头，该项目未读取",
        "a project's table in a Word annex has no indicator header: the project was not read",
    ),
    (
        "指标表按表头（一级指标、二级指标、三级指标……）读取；没有表头，指标、完成情况和得分都无从读取",
        "the indicator table is read by its header row (一级指标, 二级指标, 三级指标 …); without "
        "it no indicator, actual or score can be read",
    ),
    (
        "按自评表的栏目补上指标表表头后重新提交，或用下发的 Excel 模板填写",
        "add the form's indicator header row and send it again, or fill the issued Excel template",
    ),
)
_rule(
    "I024",
    (
        "Word 表格按标签识别为某表式后读取",
        "a Word table was read as the form whose labels it shows",
    ),
    (
        "Word 附件没有表式标识；按表格中的标签（年初预算数、分值、实际完成指标值等）选最接近的表式",
        "a Word annex carries no form id; the closest form is chosen by the labels the table "
        "shows (年初预算数, 分值, 实际完成指标值 …)",
    ),
    (
        "无需改正；位置按表格中的行和栏目名称给出，写作「表2 第9行「实际完成指标值」」",
        "nothing to correct; places are given by the table's row and column label "
        "(表2 第9行「实际完成指标值」)",
    ),
)
_rule(
    "E019",
    (
        "单元格内容已损坏（格式编号或文字编号不存在、数字无法识别），该单元格未读取",
        "a cell is damaged (a format or text number that does not exist, a number that is "
        "none): the cell was not read",
    ),
    (
        "Excel/WPS 打开时会“修复”掉这样的单元格，其中的值不可信；其余内容照常读取，该栏目按未填处理",
        "Excel/WPS 'repair' such a cell away on opening, and its value cannot be trusted; the "
        "rest is read as usual and the field counts as not filled in",
    ),
    (
        "重新输入该单元格后保存；仍报错时用下发的原模板重新填写",
        "type the cell again and save; if it is still reported, fill the issued template again",
    ),
)
# -- header ------------------------------------------------------------------------------------
_rule(
    "E101",
    ("必填的表头栏目为空", "a required header field is empty"),
    (
        "项目名称、主管部门及代码、实施单位、年度用于识别项目",
        "project, department and code, unit and year identify the project",
    ),
    ("填写该栏目", "fill the field"),
)
_rule(
    "E102",
    ("年度不是有效的四位年份", "the year is not a valid four-digit year"),
    ("年度用于汇总和核对", "the year is used to summarise and cross-check"),
    ("填写如 2022 的年份", "enter a year such as 2022"),
)
# -- values ------------------------------------------------------------------------------------
_rule(
    "W201",
    (
        "数值经过修正后读取（全角数字、千分位、单位、文本格式的数字等）",
        "a number was read after repair (full-width digits, separators, units, text …)",
    ),
    (
        "让填报人确认工具读到的数和本意一致",
        "lets the unit confirm that what was read is what was meant",
    ),
    ("只填数字，单位以表头为准", "type the number only; the unit is given by the form"),
)
_rule(
    "E202",
    ("应为数字，却无法读成数字", "a number was expected but cannot be read as one"),
    ("无法计算合计、执行率和得分", "totals, execution rate and scores cannot be computed"),
    ("填写阿拉伯数字，如 114.56", "enter digits, such as 114.56"),
)
_rule(
    "E203",
    ("数值为负数、过大或不是有限数", "a number is negative, too large or not finite"),
    (
        "金额、分值不能为负，也不会超过 10¹⁰ 万元",
        "amounts and weights are never negative nor above 10¹⁰ 万元",
    ),
    ("核对并改正该数", "check and correct the number"),
)
_rule(
    "W204",
    (
        "指标类别或完成状态使用了别名（如“完成”“基本完成”），已按标准名称读取",
        "an indicator category or status alias (完成, 基本完成 …) was read as its standard name",
    ),
    (
        "统一名称才能汇总和计分",
        "categories and statuses must be uniform to be summarised and scored",
    ),
    ("从下拉列表选择标准名称", "choose the standard name from the dropdown"),
)
_rule(
    "E205",
    ("文字超过表式规定的长度", "text is longer than the form allows"),
    (
        "表式对文字长度有规定（如评价结论 200 字以内）",
        "the form limits text length (e.g. conclusion ≤ 200 characters)",
    ),
    ("精简文字", "shorten the text"),
)
# -- funds -------------------------------------------------------------------------------------
_rule(
    "E301",
    ("执行数超过预算数", "amount spent exceeds the budget"),
    (
        "执行数不能超过全年预算数（合计行和每个资金来源都要核对）",
        "spending cannot exceed the full-year budget, in total and per source",
    ),
    ("核对执行数和调整后的全年预算数", "check the amount spent and the adjusted full-year budget"),
)
_rule(
    "E302",
    ("资金合计不等于各来源之和", "the fund total differs from the sum of its sources"),
    ("合计应由各资金来源相加而得", "the total must be the sum of the sources"),
    (
        "恢复合计行的公式，或核对各来源金额",
        "restore the total row's formula, or check the source amounts",
    ),
)
_rule(
    "E303",
    ("没有填写预算数", "no budget given"),
    ("没有预算数无法计算执行率", "the execution rate needs a budget"),
    ("按资金来源填写全年预算数", "enter the full-year budget by source"),
)
_rule(
    "E304",
    ("没有填写执行数", "no amount spent given"),
    ("没有执行数无法计算执行率", "the execution rate needs the amount spent"),
    (
        "按资金来源填写全年执行数（未支出填 0）",
        "enter the amount spent by source (0 if nothing was spent)",
    ),
)
_rule(
    "W305",
    ("预算执行率偏低，但未说明原因", "low execution rate without a reason"),
    ("表式要求执行率低于阈值时说明原因", "the form asks for a reason below the threshold"),
    ("在“原因”栏说明", "explain it in the reason field"),
)
_rule(
    "W306",
    (
        "全年预算数比年初预算数调减较多（默认 20% 以上），且恰好等于全年执行数",
        "the full-year budget was cut well below the initial one (20 %+ by default) to equal the amount spent",
    ),
    (
        "把预算调整到支出数，执行率就成了 100%，执行率得分不再反映执行情况",
        "a budget adjusted to the spending makes the rate 100 % and its score meaningless",
    ),
    (
        "核实预算调整的批复；如未调整，按批复的全年预算数填写",
        "check the approved adjustment; if there was none, enter the approved full-year budget",
    ),
)
_rule(
    "W307",
    (
        "金额不合常理：10 亿元（100,000 万元）以上、是本项目另一金额的 10,000 倍以上，或恰为年初预算数的 10 倍或 1/10",
        "an implausible amount: 100,000 万元 or more, 10,000 × another amount of the project, or exactly 10 × (or 1/10 of) the initial budget",
    ),
    (
        "常见原因是把元填进了万元栏，或多打、少打了一个 0；合计和执行率会因此失真",
        "usually 元 typed into a 万元 column or a zero too many or too few; totals and rates go wrong",
    ),
    ("核对金额，以万元为单位填写", "check the amount and enter it in 万元"),
)
# -- indicators --------------------------------------------------------------------------------
_rule(
    "E401",
    ("指标行缺少必填内容", "an indicator row lacks a required value"),
    (
        "每个指标都要有一级、二级、三级指标、指标值、完成值和完成状态",
        "every indicator needs level 1, 2, 3, target, actual value and status",
    ),
    ("补齐该行，或清空整行", "complete the row, or clear it entirely"),
)
_rule(
    "E402",
    ("一级指标不在指标体系中", "level-1 category is not in the taxonomy"),
    ("只能使用规定的一级指标", "only the prescribed level-1 categories may be used"),
    ("从下拉列表选择", "choose from the dropdown"),
)
_rule(
    "E403",
    (
        "二级指标不在指标体系中，或不属于所填的一级指标",
        "level-2 category is unknown or does not belong to its level 1",
    ),
    ("二级指标必须属于其一级指标", "a level-2 category must belong to its level 1"),
    ("先选一级指标，再从下拉列表选择二级指标", "choose level 1, then level 2 from the dropdown"),
)
_rule(
    "E404",
    ("完成状态不在列表中", "status is not one of the list"),
    ("完成状态只能是已完成、部分完成、未完成", "the status must be one of the listed values"),
    ("从下拉列表选择", "choose from the dropdown"),
)
_rule(
    "E405",
    (
        "指标未完成（或未得满分），但未写偏差原因",
        "indicator not met (or not full marks) without a reason",
    ),
    (
        "未完成的指标必须分析原因并提出改进措施；“无”“0”“/”“同上”等不算原因",
        "an unmet indicator needs its reason and a remedy; 无, 0, /, 同上 and the like are no reason",
    ),
    ("填写偏差原因分析及改进措施", "fill in the reason and the remedy"),
)
_rule(
    "E406",
    ("缺少某个一级指标", "a level-1 category has no indicator"),
    (
        "表式规定必须设置的一级指标（如产出、效益、满意度）都要有指标；表式可把某个一级指标设为可选（required = false）",
        "every level-1 category the form requires (output, outcome, satisfaction) needs an indicator; a form may make one optional (required = false)",
    ),
    ("为该一级指标至少填写一个指标", "add at least one indicator for it"),
)
_rule(
    "E407",
    (
        "指标值或完成值是占位符（XX、*、— 等）",
        "target or actual value is a placeholder (XX, *, — …)",
    ),
    ("占位符说明内容没有填写", "a placeholder means the value was never filled in"),
    ("填写实际的指标值", "enter the real value"),
)
_rule(
    "W408",
    (
        "指标值没有量化（缺数字和单位），也未注明定性",
        "target is neither quantified (number and unit) nor marked 定性",
    ),
    ("不能量化的指标无法客观评分", "a target that is not quantified cannot be scored objectively"),
    ("写成“≥12次”这样的形式，或注明“定性”", "write it like “≥12次”, or mark it 定性"),
)
_rule(
    "W409",
    ("百分比超过 100%", "a percentage above 100 %"),
    ("比率类指标通常不超过 100%", "rates rarely exceed 100 %"),
    ("核对该百分比", "check the percentage"),
)
_rule(
    "W410",
    (
        "成本类指标（成本指标、经济成本指标、社会成本指标、生态环境成本指标）使用了“≥”",
        "a cost indicator (成本指标, 经济成本指标, 社会成本指标, 生态环境成本指标) uses ≥",
    ),
    ("成本指标应为“≤”（控制在多少以内）", "a cost target is a ceiling (≤)"),
    ("改为“≤”", "use ≤"),
)
_rule(
    "W411",
    (
        "定量指标的完成值是文字，无法计分",
        "a quantitative indicator's actual value is a word: cannot be scored",
    ),
    ("定量指标按完成值与指标值之比计分", "quantitative indicators are scored by actual ÷ target"),
    ("填写实际完成的数值，如“15次”", "enter the achieved number, such as “15次”"),
)
_rule(
    "W412",
    ("满意度指标值低于阈值", "satisfaction target below the threshold"),
    ("满意度目标一般不低于 90%", "satisfaction targets are usually at least 90 %"),
    ("核对满意度目标", "check the satisfaction target"),
)
_rule(
    "E413",
    ("指标性质不在列表中", "indicator sign is not one of the list"),
    ("指标性质决定计分方向", "the sign decides how the indicator is scored"),
    ("从下拉列表选择", "choose from the dropdown"),
)
_rule(
    "E414",
    ("没有填写任何绩效指标", "no indicator filled in"),
    ("没有指标就无法评价", "nothing can be evaluated without indicators"),
    ("填写绩效指标", "fill in the indicators"),
)
_rule(
    "W415",
    (
        "指标重复考核预算执行（如数量指标的指标值等于预算金额，或三级指标为预算执行率）",
        "an indicator counts the budget's execution again (a quantity target equal to the budget, or a 预算执行率 indicator)",
    ),
    (
        "预算执行率已单独占 10 分，再设为绩效指标等于重复计分",
        "the execution rate already carries its own 10 points; as an indicator it is counted twice",
    ),
    (
        "改用反映产出（做了什么、做了多少）的指标",
        "use an indicator of the output itself (what was done, how much)",
    ),
)

# -- scores (forms with 分值 / 得分 columns; W509 on every form) ---------------------------------
_rule(
    "E501",
    (
        "指标分值合计不等于 90（总分 100 减去执行率分值）",
        "indicator weights do not add up to 90 (100 minus the execution weight)",
    ),
    ("总分按 100 分制，执行率占 10 分", "the total is out of 100, of which execution takes 10"),
    ("调整各指标分值", "adjust the indicator weights"),
)
_rule(
    "E502",
    ("指标分值为空或不大于 0", "an indicator weight is empty or not above 0"),
    ("没有分值的指标无法计分", "an indicator without a weight cannot be scored"),
    ("填写该指标的分值", "enter the indicator's weight"),
)
_rule(
    "E503",
    (
        "某一级指标的分值合计与表式规定的固定权重不符（如产出 50、效益 30、满意度 10）",
        "a level-1 category's weights differ from the weight the form fixes (such as 50 / 30 / 10)",
    ),
    (
        '表式规定该类指标的权重固定（weight_rule = "fixed"）',
        'the form fixes the category\'s weight (weight_rule = "fixed")',
    ),
    ("按规定调整该类指标的分值", "adjust the category's weights"),
)
_rule(
    "E504",
    ("得分超过分值", "a score above its weight"),
    ("任何指标的得分都不能超过其分值", "no indicator can score above its weight"),
    ("改正得分", "correct the score"),
)
_rule(
    "E505",
    ("自评得分与按规则计算的得分不符", "a self-reported score differs from the rules"),
    (
        "定量指标按完成值与指标值之比计分（反向指标按超出程度扣分）",
        "quantitative indicators score actual ÷ target (reverse ones lose points as they exceed)",
    ),
    (
        "按消息中的计算改正得分，或核对指标值和完成值",
        "correct the score as computed in the message, or check target and actual",
    ),
)
_rule(
    "E506",
    (
        "填写的执行率、执行率得分或总分与各项计算不符",
        "a stated execution rate, execution score or total differs from its parts",
    ),
    ("这些数由公式计算，被改写后可能出错", "these are formulas; typed-over values can be wrong"),
    ("恢复公式，或改正该数", "restore the formula, or correct the number"),
)
_rule(
    "E507",
    (
        "定性指标的得分超出其完成状态对应的区间",
        "a qualitative score outside the band of its status",
    ),
    (
        "已完成 80–100%、部分完成 60–80%、未完成 0–60%（区间由表式规定）",
        "done 80–100 %, partly 60–80 %, not done 0–60 % of the weight (set by the form)",
    ),
    ("按完成状态调整得分", "adjust the score to the status"),
)
_rule(
    "E508",
    ("得分低于分值，但未写偏差原因", "a score below its weight without a reason"),
    (
        "未得满分的指标须分析原因；“无”“0”“/”“同上”等不算原因",
        "an indicator without full marks needs its reason; 无, 0, /, 同上 are no reason",
    ),
    ("填写偏差原因分析及改进措施", "fill in the reason and the remedy"),
)
_rule(
    "W509",
    (
        "完成值达到指标值的 130% 以上，未说明原因",
        "actual at or above 130 % of the target without an explanation",
    ),
    (
        "大幅超额完成可能说明目标定得过低",
        "large over-achievement may mean the target was set too low",
    ),
    ("在偏差原因栏说明", "explain it in the reason column"),
)
_rule(
    "E510",
    ("指标有分值但没有填写得分", "an indicator with a weight has no score"),
    ("计分表式要求每个指标自评得分", "a scored form needs every indicator's self-score"),
    ("填写得分", "enter the score"),
)
_rule(
    "W511",
    (
        "全部指标自评满分，但执行率低于 60%（默认）或有指标未完成",
        "every indicator self-scored at full marks while the execution rate is below 60 % (default) or an indicator is not met",
    ),
    (
        "钱没花完或目标没完成，绩效却全部满分，审核人不会认可这样的自评",
        "money unspent or targets unmet with full marks everywhere is a self-evaluation no reviewer signs",
    ),
    (
        "按实际完成情况逐项评分，并写明偏差原因",
        "score each indicator by what was achieved and give the reasons",
    ),
)
_rule(
    "W512",
    (
        "某一级指标的分值合计与原则上的权重不符（如产出 50、效益 30、满意度 10）",
        "a level-1 category's weights differ from its weight in principle (such as 50 / 30 / 10)",
    ),
    (
        "“财预〔2020〕10号”规定一级指标权重“原则上”按此设置，“如有特殊情况，一级指标权重可做适当调整”："
        '调整不是错误，但须有理由（表式中 weight_rule = "principle"）',
        "财预〔2020〕10号 sets the level-1 weights 'in principle' and allows that 'where there are "
        "special circumstances, level-1 weights may be adjusted appropriately': an adjustment is "
        'no error, but needs a reason (weight_rule = "principle" in the spec)',
    ),
    (
        "确有特殊情况的，在偏差原因或评价结论中说明调整权重的理由；否则按原则权重调整分值",
        "where the project has special circumstances, say why the weights were adjusted; "
        "otherwise set the weights in principle",
    ),
)

# -- the inbox (collect) -----------------------------------------------------------------------
_rule(
    "W601",
    (
        "同一项目收到多个文件，此文件已被较新的文件取代",
        "several files for one project: this one is superseded by a newer one",
    ),
    (
        "每个项目只汇总一份；按工作簿自身的保存时间（其次文件时间）取最新的。被取代文件的问题"
        "保留在问题清单中（标为“已被取代”），不计入任何统计",
        "one file per project is summarised: the newest by the workbook's saved time, then file "
        "time. A superseded file's findings stay in the list, marked superseded, and count nowhere",
    ),
    (
        "确认采用的是正确的版本，删除旧文件",
        "check the right version is used and remove the old file",
    ),
)
_rule(
    "E602",
    ("项目不在名册中", "the project is not on the roster"),
    (
        "按工作簿内的主管部门代码和项目名称（或项目代码）与名册核对",
        "projects are matched to the roster by the department code and project name (or code) inside the workbook",
    ),
    (
        "核对项目名称和代码，或把项目加入名册",
        "check the project's name and code, or add it to the roster",
    ),
)
_rule(
    "E603",
    ("财政部门预填的内容与名册不符", "an office-issued value differs from the roster"),
    (
        "预算数、项目和单位名称由财政部门下发，不应被改动；汇总按名册的值计算，单位填的值列在"
        "项目明细的“单位填报值”中",
        "budget, project and unit names are issued by the office and must not change; the summary "
        "counts the roster's value and shows the unit's beside it in 项目明细",
    ),
    ("用下发的模板重新填写，或核对名册", "fill the issued template again, or check the roster"),
)
_rule(
    "W604",
    ("名册中的项目未收到", "a project on the roster was not received"),
    (
        "汇总须覆盖名册中的全部项目；按模板命名（主管部门代码_实施单位_项目名称）收到但无法读取"
        "的文件算作已收到（无法读取），不再催报",
        "the summary must cover every project on the roster; a file named as its template "
        "(<dept code>_<unit>_<project>) that cannot be read counts as received (unreadable)",
    ),
    ("催报该项目", "ask the unit for it"),
)
_rule(
    "W605",
    (
        "收件箱中的文件不是工作簿，或链接指向收件箱以外，未读取",
        "a file in the inbox is not a workbook, or links outside the inbox: not read",
    ),
    ("只读取收件箱内的 Excel 工作簿", "only Excel workbooks inside the inbox are read"),
    ("如是自评表，请另存为 .xlsx", "if it is a form, save it as .xlsx"),
)
_rule(
    "E607",
    (
        "收件箱中的文件夹无法读取，其中的文件未汇总",
        "a folder of the inbox cannot be read: its files are not summarised",
    ),
    (
        "没有权限列出的文件夹里的工作簿不会出现在汇总中；不报告就会悄悄少算项目",
        "workbooks in a folder that cannot be listed would be missing from the summary without a word",
    ),
    (
        "检查该文件夹的权限（或把其中的文件复制出来），再运行一次",
        "check the folder's permissions (or copy its files out) and run again",
    ),
)
_rule(
    "W608",
    (
        "本工具生成的汇总表或审核结果，不是单位的自评表，未读取",
        "a summary written by this tool, not a unit's form: not read",
    ),
    (
        "按文档属性识别；汇总表放在收件箱里不算作无法读取的文件，也不会被当作项目汇总",
        "recognised by its document properties; a summary left in the inbox is neither counted "
        "unreadable nor summarised as a project",
    ),
    ("把汇总表移出收件箱，或不必理会", "move the summary out of the inbox, or ignore this"),
)

# -- signatures (check/collect --key) ----------------------------------------------------------
_rule(
    "E701",
    ("工作簿没有签名，或签名信息损坏", "the workbook has no signature, or it is damaged"),
    (
        "财政部门用 --key 生成的模板都带签名；没有签名就无法证明预填内容未被改动",
        "templates made with --key are signed; without it the issued values cannot be verified",
    ),
    ("用财政部门下发的模板重新填写", "fill the template the office issued"),
)
_rule(
    "E702",
    (
        "签名无效（签名信息或表式标识被改动，或用另一把密钥签名）",
        "invalid signature (signed data or identity altered, or another key)",
    ),
    (
        "签名证明预填内容由持有密钥的财政部门下发",
        "the signature proves the issued values came from the office holding the key",
    ),
    (
        "用财政部门下发的模板重新填写；核对所用密钥",
        "fill the issued template again; check the key used",
    ),
)
_rule(
    "E703",
    ("财政部门预填并签名的内容被改动", "an issued and signed value was changed"),
    (
        "预算数、项目、单位等由财政部门下发，即使取消了工作表保护也不能改；汇总按签名的下发值计算",
        "budget, project and unit are issued by the office and must not change, even with protection removed; the summary counts the signed issued value",
    ),
    (
        "恢复为下发时的内容，或请财政部门重新下发",
        "restore the issued value, or ask the office to issue the template again",
    ),
)
_rule(
    "E704",
    ("加密工作簿的打开密码不正确", "the open password of an encrypted workbook is wrong"),
    (
        "用 --password 给出的密码无法解密该文件",
        "the password given with --password does not decrypt the file",
    ),
    ("向填报单位确认打开密码", "ask the unit for the right password"),
)

_rule(
    "W606",
    ("工作簿的表式与名册所用的表式不同", "the workbook's form differs from the roster's form"),
    (
        "同一批项目应使用同一种表式，汇总才可比",
        "one batch should use one form so that the summary compares like with like",
    ),
    ("确认该单位使用了正确的模板", "check the unit used the right template"),
)

# -- what the template's own 自检 sees ---------------------------------------------------------
#: Error codes the template's 自检 cell counts, each marked red on the cell the finding names
#: (perfeval_xl/template/selfcheck.py): every rule a formula can apply inside the workbook. The sheet
#: counts a problem exactly when `check` reports one of these (tests/test_selfcheck_parity.py),
#: within SELF_CHECK_LIMITS. Warnings are never counted. A new error code goes here or into
#: CHECK_ONLY (a test says so).
SELF_CHECKED: frozenset[str] = frozenset(
    {
        *("E101", "E102", "E203", "E205"),
        *("E301", "E302", "E303", "E304"),
        *("E401", "E402", "E403", "E404", "E405", "E406", "E407", "E413", "E414"),
        *("E501", "E502", "E503", "E504", "E505", "E506", "E507", "E508", "E510"),
    }
)

#: Self-checked codes the sheet sees only in part, and what it leaves to `check`.
SELF_CHECK_LIMITS: dict[str, Text] = {
    "E505": Text(
        "指标值写作“≥12次”“95%”“≤100万元”（符号、数字、单位）、完成值写作数字加单位时计入；"
        "“不少于12次”“满意度≥90%”“1,234次”等写法表内公式无法解析，只由 check 计分",
        "counted where the target reads [sign]number[unit] (≥12次, 95%, ≤100万元) and the "
        "actual value likewise; a target such as 不少于12次, 满意度≥90% or 1,234次, which no "
        "formula parses, is scored by check alone",
    ),
    "E507": Text(
        "指标值明显为定性（写明定性、无数字、空白或占位符）时计入；含数字而表内无法解析的"
        "指标值（如“2022年12月底前完成”）只由 check 判断",
        "counted where the target is plainly qualitative (定性, no digit, blank, a "
        "placeholder); a target with digits no formula parses (2022年12月底前完成) is judged "
        "by check alone",
    ),
    "E506": Text(
        "执行率、执行率得分被改写时计入；改写的总分只由 check 发现（总分要按规则逐项计分）；"
        "部门整体表的合计被改写时计入（合计即各项自评得分之和）",
        "counted for 执行率 and 执行率得分 typed over; a 总分 typed over is seen by check "
        "alone (it needs every indicator scored by the rules); a department form's 合计 typed "
        "over is counted (it is the sum of the 自评得分 typed)",
    ),
}

_FILE = Text(
    "文件本身的问题：打不开或不是本模板的文件里，表内公式无从运行",
    "the file itself: in a file that cannot be opened as this template no formula runs",
)
#: Why `check` alone reports an error code the 自检 does not count.
CHECK_ONLY: dict[str, Text] = {
    **dict.fromkeys(("E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008"), _FILE),
    "E011": _FILE,
    "E014": _FILE,
    "E023": _FILE,
    "E025": _FILE,
    "E017": Text(
        "表内公式按名称引用单元格，看不出一个名称被定义了两次",
        "the sheet's formulas use the names and cannot see that one is defined twice",
    ),
    "E019": Text(
        "损坏的单元格在打开文件时即被 Excel/WPS 修复或清除，表内公式看不到它",
        "Excel/WPS repair or clear a damaged cell when the file is opened: no formula sees it",
    ),
    "E202": Text(
        "把文本读成数字（全角数字、“万元”“分”等）是 check 的读取规则；表内只认数字，"
        "数字单元格中的文本按未填计",
        "reading text as a number (full-width digits, 万元, 分) is check's own; the sheet "
        "reads numbers only and takes text in a number cell as not filled in",
    ),
    **dict.fromkeys(
        ("E602", "E603"),
        Text("与名册比对，只在 collect 中进行", "compared with the roster, by collect only"),
    ),
    "E607": Text(
        "收件箱本身的问题，只在 collect 中出现", "about the inbox itself, by collect only"
    ),
    **dict.fromkeys(
        ("E701", "E702", "E703"),
        Text(
            "签名用财政部门的密钥核验，密钥从不写入工作簿",
            "verified with the office's key, which is never in the workbook",
        ),
    ),
    "E704": Text(
        "加密文件解密前无法读取", "an encrypted file cannot be read before it is decrypted"
    ),
}


def self_check_note(code: str) -> Text:
    """What the template's 自检 does with a code (the 自检 column of docs/rules.md)."""
    if code in SELF_CHECKED:
        limit = SELF_CHECK_LIMITS.get(code)
        if limit is None:
            return Text("计入", "counted")
        return Text(f"部分计入：{limit.zh}", f"partly: {limit.en}")
    if code in CHECK_ONLY:
        why = CHECK_ONLY[code]
        return Text(f"仅 check：{why.zh}", f"check only: {why.en}")
    if code == "W305":
        return Text("橙色提示，不计入", "marked orange, not counted")
    if code.startswith("I"):
        return Text("提示，不计入", "a note: not counted")
    return Text("警告，不计入", "a warning: not counted")


def rules_markdown(lang: str = "zh") -> str:
    """The text of `docs/rules.md`: every rule, generated so the table can never go stale.

    The headings and the introduction are in `lang` ("zh", as docs/rules.md has them, or
    "en"); every row is in both languages. Regenerate with `perfeval-xl rules > docs/rules.md`.
    """
    if lang == "en":
        lines = [
            "# Rules: what `perfeval-xl check` reports",
            "",
            "<!-- Generated by `perfeval-xl --lang en rules`; docs/rules.md is the Chinese "
            "`perfeval-xl rules`. -->",
            "",
            "Every finding has a stable code: `E…` errors (the form must be corrected; `check` exits 1),",
            "`W…` warnings (worth a look; `check` exits 0 unless `--strict`), `I…` notes (what the tool",
            "did, nothing to correct). E0xx/W0xx/I0xx are about the",
            "file and the template, 1xx the header, 2xx values as typed, 3xx the funds, 4xx the",
            "indicators, 5xx the scores (reported scores on forms with 分值/得分 columns), 6xx the inbox",
            "and the roster (`collect`), 7xx the signature of issued values (`--key`). Thresholds (tolerances, the 90 % execution and satisfaction floors, placeholder",
            "texts, text lengths) come from the form's spec in `workbook_templates/`.",
            "",
            "The column 自检 says what the template's own self-check cell (`pe_selfcheck`, the second",
            "row of the form) does with each code: errors it counts are marked red on the cell the",
            "finding names, live, in Excel, WPS and LibreOffice, so a sheet that says 未发现问题 gets",
            "no such error from `check` (within the limits the column states). It reads the values as",
            "`check` does (whitespace, label and status aliases, 无/同上 as no reason, pre-printed",
            "rows), with one limit for all: it reads",
            "numbers typed as numbers, and takes a number pasted as text (which `check` reads, W201)",
            "as not filled in. Warnings are not counted.",
            "",
            "| code | severity | what it checks | why | how to fix | 自检 self-check |",
            "|---|---|---|---|---|---|",
        ]
    else:
        # a Chinese paragraph is one line: Markdown turns a line break inside it into a space
        lines = [
            "# 检查规则：`perfeval-xl check` 报告的问题",
            "",
            "<!-- 由 `perfeval-xl rules > docs/rules.md` 生成，请勿手工修改。 -->",
            "",
            "每条问题都有固定的代码：`E…` 为错误（表必须改正；有错误时 `check` 的退出码为 1），"
            "`W…` 为警告（请核对；除非使用 `--strict`，`check` 的退出码仍为 0），"
            "`I…` 为提示（说明工具做了什么，无需改正）。"
            "E0xx/W0xx/I0xx 关于文件和模板，1xx 关于表头，2xx 关于所填的值，3xx 关于资金，"
            "4xx 关于绩效指标，5xx 关于得分（有分值、得分列的表式上单位自评的得分），"
            "6xx 关于收件箱和名册（`collect`），7xx 关于下发数值的签名（`--key`）。"
            "各项阈值（容差、执行率和满意度 90% 的下限、占位符文字、文字长度）"
            "来自 `workbook_templates/` 中表式的定义。",
            "",
            "“自检”一栏说明模板自带的自检单元格（`pe_selfcheck`，表的第二行）如何处理每个代码："
            "它计入的错误，在 Excel、WPS 和 LibreOffice 中实时把问题所指的单元格标红，"
            "所以显示“未发现问题”的表，`check` 也不会再报这些错误（在该栏所述的限度内）。"
            "它与 `check` 一样读取所填的值（多余的空白，一级、二级指标和完成状态的别名，"
            "“无”“同上”不算原因，预印的行），只有一条共同的限制：它只认以数字输入的数字，"
            "以文本粘贴的数字（`check` 照常读取，报 W201）按未填计。警告不计入。",
            "",
            "| 代码 | 级别 | 检查内容 | 原因 | 改正方法 | 自检 |",
            "|---|---|---|---|---|---|",
        ]
    for r in RULES.values():
        sev = {ERROR: "error 错误", WARNING: "warning 警告", INFO: "note 提示"}[r.severity]
        note = self_check_note(r.code)
        lines.append(
            f"| {r.code} | {sev} | {r.what.zh}<br>{r.what.en} | {r.why.zh}<br>{r.why.en} "
            f"| {r.fix.zh}<br>{r.fix.en} | {note.zh}<br>{note.en} |"
        )
    return "\n".join(lines) + "\n"
