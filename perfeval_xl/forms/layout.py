"""Where everything goes on the form sheet: a pure function of the spec and the row count.

The generator writes at these positions and defines the named-range contract from them; tests use
them to say what a name must point at. The reader never needs the layout: it finds every input by
its contract name, so a unit's Excel may move cells around without breaking anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xlsxwriter.utility import xl_col_to_name

from .spec import Spec

#: Width of column A, which carries the section labels (项目资金, 绩效指标 …).
SECTION_COL_WIDTH = 12.0


@dataclass(frozen=True)
class Area:
    """A rectangle of cells, zero-based and inclusive, as xlsxwriter counts."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int

    @property
    def is_cell(self) -> bool:
        return self.first_row == self.last_row and self.first_col == self.last_col

    def a1(self, absolute: bool = True) -> str:
        """`$B$3` or `$B$3:$J$3` (absolute) or `B3:J3`."""
        d = "$" if absolute else ""
        first = f"{d}{xl_col_to_name(self.first_col)}{d}{self.first_row + 1}"
        if self.is_cell:
            return first
        return f"{first}:{d}{xl_col_to_name(self.last_col)}{d}{self.last_row + 1}"

    def anchor(self) -> Area:
        """The top-left cell, where a merged area keeps its value."""
        return Area(self.first_row, self.first_col, self.first_row, self.first_col)

    def cells(self) -> list[tuple[int, int]]:
        return [
            (r, c)
            for r in range(self.first_row, self.last_row + 1)
            for c in range(self.first_col, self.last_col + 1)
        ]


def span(row: int, first_col: int, last_col: int, last_row: int | None = None) -> Area:
    """The area from `first_col` to `last_col` on `row` (to `last_row` when given)."""
    return Area(row, first_col, row if last_row is None else last_row, last_col)


@dataclass
class Layout:
    """Positions of every label, input and computed cell of one form sheet."""

    spec: Spec
    indicator_rows: int
    ncols: int = 0
    title: Area | None = None
    note: Area | None = None
    selfcheck: Area | None = None
    #: header field name -> (label area, value area)
    header: dict[str, tuple[Area, Area]] = field(default_factory=dict)
    funds_section: Area | None = None
    funds_header_row: int = 0
    funds_label_cols: tuple[int, int] = (0, 0)
    #: fund column key -> (first col, last col)
    fund_cols: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: fund row key -> sheet row
    fund_rows: dict[str, int] = field(default_factory=dict)
    goals_section: Area | None = None
    goals_header_row: int = 0
    goal_expected: Area | None = None
    goal_actual: Area | None = None
    indicators_section: Area | None = None
    indicators_header_row: int = 0
    #: indicator column key -> sheet column
    indicator_cols: dict[str, int] = field(default_factory=dict)
    first_indicator_row: int = 0
    last_indicator_row: int = 0
    total_row: int | None = None
    total_label: Area | None = None
    #: footer field name -> (label area, value area)
    footer: dict[str, tuple[Area, Area]] = field(default_factory=dict)
    last_row: int = 0

    def fund_cell(self, row_key: str, col_key: str) -> Area:
        """The (possibly merged) area of one fund cell."""
        first, last = self.fund_cols[col_key]
        return span(self.fund_rows[row_key], first, last)

    def indicator_column(self, key: str) -> Area:
        """The whole input column of indicator `key`, every indicator row."""
        col = self.indicator_cols[key]
        return Area(self.first_indicator_row, col, self.last_indicator_row, col)

    @property
    def printed(self) -> Area:
        """The print area: the whole form."""
        return Area(0, 0, self.last_row, self.ncols - 1)


def make_layout(spec: Spec, indicator_rows: int | None = None) -> Layout:
    """Lay the form out on a grid whose columns are the section column plus the indicator columns.

    Args:
        spec: the form.
        indicator_rows: rows in the indicator table (default: the spec's `indicator_rows`).
    """
    # a department form's table is its pre-printed rows, no more and no fewer
    rows = spec.indicator_rows if spec.department else indicator_rows or spec.indicator_rows
    lay = Layout(spec, rows)
    lay.ncols = 1 + len(spec.indicator_columns)
    last = lay.ncols - 1
    mid = 1 + (lay.ncols - 1) // 2
    row = 0
    lay.title = span(row, 0, last)
    row += 1
    lay.note = span(row, 0, mid - 1)
    lay.selfcheck = span(row, mid, last)
    row += 1

    row = _header_rows(lay, "", row)

    if spec.has_funds:
        row = _funds(lay, row)
    row = _header_rows(lay, "funds", row)

    if spec.goals is not None:
        lay.goals_header_row = row
        lay.goal_expected = span(row + 1, 1, mid - 1)
        lay.goal_actual = span(row + 1, mid, last)
        lay.goals_section = span(row, 0, 0, row + 1)
        row += 2
    row = _header_rows(lay, "goals", row)

    lay.indicators_header_row = row
    for offset, c in enumerate(spec.indicator_columns):
        lay.indicator_cols[c.key] = 1 + offset
    lay.first_indicator_row = row + 1
    lay.last_indicator_row = row + lay.indicator_rows
    row = lay.last_indicator_row
    if spec.scored:
        row += 1
        lay.total_row = row
        lay.total_label = span(row, 1, lay.indicator_cols["weight"] - 1)
    lay.indicators_section = span(lay.indicators_header_row, 0, 0, row)
    row += 1

    for f in spec.footer:
        lay.footer[f.name] = (span(row, 0, 0), span(row, 1, last))
        row += 1
    lay.last_row = row - 1
    return lay


def _funds(lay: Layout, row: int) -> int:
    """Lay out the fund block from `row`: a label area, then equal-width value columns filling
    the grid; return the next free row."""
    spec = lay.spec
    ncells = lay.ncols - 1
    nvalues = len(spec.fund_columns)
    width = max(1, ncells // (nvalues + 1))
    label_width = ncells - nvalues * width
    lay.funds_header_row = row
    lay.funds_label_cols = (1, label_width)
    col = 1 + label_width
    for c in spec.fund_columns:
        lay.fund_cols[c.key] = (col, col + width - 1)
        col += width
    for r in spec.fund_rows:
        row += 1
        lay.fund_rows[r.key] = row
    lay.funds_section = span(lay.funds_header_row, 0, 0, row)
    return row + 1


def _header_rows(lay: Layout, after: str, row: int) -> int:
    """Lay out the header fields placed `after` ("" the top, "funds", "goals") from `row`, one
    row each (a text block of several lines is one tall row), two consecutive half fields
    sharing a row; return the next free row."""
    spec = lay.spec
    last = lay.ncols - 1
    mid = 1 + (lay.ncols - 1) // 2
    fields = [f for f in spec.header if f.after == after]
    i = 0
    while i < len(fields):
        f = fields[i]
        pair = f.span == "half" and i + 1 < len(fields) and fields[i + 1].span == "half"
        if pair:
            g = fields[i + 1]
            label_end = _wide_enough(spec, mid, last - 1)
            lay.header[f.name] = (span(row, 0, 0), span(row, 1, mid - 1))
            lay.header[g.name] = (span(row, mid, label_end), span(row, label_end + 1, last))
            i += 2
        else:
            lay.header[f.name] = (span(row, 0, 0), span(row, 1, last))
            i += 1
        row += 1
    return row


def _wide_enough(spec: Spec, first: int, limit: int) -> int:
    """Last grid column of a label area starting at `first` that is at least as wide as column A,
    so a label such as 主管部门代码 is never squeezed into a narrow column (stops at `limit`)."""
    widths = [SECTION_COL_WIDTH] + [c.width for c in spec.indicator_columns]
    end, total = first, widths[first]
    while total < SECTION_COL_WIDTH and end < limit:
        end += 1
        total += widths[end]
    return end


def contract_names(lay: Layout) -> dict[str, Area]:
    """The named-range contract of the form sheet: name -> the cell or column it names.

    Single values name the top-left cell of their (merged) area; indicator names name the whole
    column of indicator rows, all of equal height, so row i of every `pe_ind_*` is one indicator.
    """
    spec = lay.spec
    names: dict[str, Area] = {}
    for f in spec.header:
        names[f"pe_{f.name}"] = lay.header[f.name][1].anchor()
    if lay.goal_expected is not None and lay.goal_actual is not None:
        names["pe_goal_expected"] = lay.goal_expected.anchor()
        names["pe_goal_actual"] = lay.goal_actual.anchor()
    for r in spec.fund_rows:
        for c in spec.amount_columns:
            names[f"pe_fund_{r.key}_{c.key}"] = lay.fund_cell(r.key, c.key).anchor()
    for kind, name in _EXEC_NAMES.items():
        col = spec.fund_column(kind)
        if col is not None and spec.has_funds:
            names[name] = lay.fund_cell("total", col.key).anchor()
    for key in spec.indicator_keys:
        names[f"pe_ind_{key}"] = lay.indicator_column(key)
    if lay.total_row is not None:
        names["pe_weight_total"] = span(
            lay.total_row, lay.indicator_cols["weight"], lay.indicator_cols["weight"]
        )
        names["pe_total_score"] = span(
            lay.total_row, lay.indicator_cols["score"], lay.indicator_cols["score"]
        )
    for f in spec.footer:
        names[f"pe_{f.name}"] = lay.footer[f.name][1].anchor()
    names["pe_selfcheck"] = lay.selfcheck.anchor()
    return names


_EXEC_NAMES = {
    "rate": "pe_exec_rate",
    "exec_weight": "pe_exec_weight",
    "exec_score": "pe_exec_score",
    "exec_reason": "pe_exec_reason",
}
