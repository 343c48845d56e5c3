"""The workbook the office issues: built by xlsxwriter (generate), with its 填报说明 sheet, its in-sheet 自检 and the private xlsxwriter steps behind one module (xlsxpost)."""
