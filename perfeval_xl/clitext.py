"""The command line's own words in Chinese: help texts, usage lines and click's messages.

Help texts are written in English in `cli.py` (the developers' language); `ZH` gives each one
in Chinese, which the command line shows by default (`--lang en` for English). `CLICK` does the
same for click's own words (its gettext message ids); `clilang` puts both to use.

A key of `ZH` is the help text as click holds it: an option's `help=` exactly, a command's
docstring (compared after `inspect.cleandoc`, so a copy indented as here matches). A test
(tests/test_cli_lang.py) fails for any option or command without an entry. Chinese text puts a
space between Chinese and a Latin word or a number (`使用 --roster 时`, `第 3 行`).
"""

from __future__ import annotations

#: English help text (an option's `help=`, a command's docstring) → its Chinese.
ZH: dict[str, str] = {
    # -- the group and click's own options
    "项目支出绩效自评 through Excel: locked templates, checks, scores and summaries.": """用 Excel 做项目支出绩效自评：锁定的模板、检查、评分和汇总。

        每个命令的用法：perfeval-xl 命令 --help
        """,
    "Language of messages (env PERFEVAL_XL_LANG).": (
        "信息和帮助的语言：zh 中文，en 英文（也可设环境变量 PERFEVAL_XL_LANG）。"
    ),
    "Show the version and exit.": "显示版本号后退出。",
    "Show this message and exit.": "显示本帮助后退出。",
    # -- template
    """Generate locked Excel templates for units to fill in.

    \b
    Examples:
      perfeval-xl template -o blank.xlsx
      perfeval-xl template --form sichuan-2022 -o blank.xlsx
      perfeval-xl template --roster projects.xlsx -o outbox/
    """: """生成锁定的 Excel 模板，发给各单位填写。

        \b
        例如（按名册每个项目生成一个预填的模板）：
          perfeval-xl template --roster 名册.xlsx -o 下发
        """,
    "Output .xlsx (blank template) or folder (with --roster).  "
    "[default: <form>.xlsx, or outbox/ with --roster]": (
        "输出的 .xlsx 文件（空白模板），或文件夹（使用 --roster 时）。"
        "  [默认：<表式>.xlsx；使用 --roster 时为 outbox]"
    ),
    "Form id (see `perfeval-xl forms`) or path of a .toml spec.": (
        "表式的编号（见 perfeval-xl forms），或 .toml 表式文件的路径。"
    ),
    "A folder of the office's own .toml form specs, used before the built-in ones "
    "(env PERFEVAL_XL_FORMS).": (
        "本单位自己的表式文件夹（其中的 .toml 文件），优先于内置表式使用"
        "（也可设环境变量 PERFEVAL_XL_FORMS）。"
    ),
    "CSV or XLSX, one project per row: write one pre-filled workbook per row.": (
        "项目名册（CSV 或 XLSX，每行一个项目）：每行生成一个预填的模板。"
    ),
    'Sheet and workbook protection password ("" for none).': (
        '工作表和工作簿的保护密码（--password "" 为不设密码）。'
    ),
    "Indicator rows in the table.  [default: the form's, 20]": (
        "指标表的行数。  [默认：按表式，一般为 20]"
    ),
    "Sign the issued values with this key file (created, owner-only, on first use).": (
        "用此密钥文件为下发的数值签名（第一次使用时创建，只有本人可读）。"
    ),
    "No progress bar (with --roster).": "不显示进度条（使用 --roster 时）。",
    "With --roster: remove the templates this tool made in the output folder that this "
    "roster does not produce (an earlier roster's, never filled in); other files are never "
    "touched.": (
        "使用 --roster 时：删除输出文件夹中本工具生成、但不属于本名册的模板（以前的名册生成、"
        "未经填写的）；其他文件一律不动。"
    ),
    # -- check
    """Check filled workbooks: read every value by name and apply the reviewer's rules.

    FILES may be workbooks, Word annexes (.docx: each form table is one project), .zip
    attachments (the workbooks in them are checked) and folders (searched as collect searches
    an inbox); what in them is not checked is listed too.

    Exit code 0 when no file has errors (warnings allowed unless --strict), 1 when any has.

    \b
    Examples:
      perfeval-xl check 109101_攀枝花市区委宣传部_2022年媒体合作项目.xlsx
      perfeval-xl check 收件箱 附件.zip
      perfeval-xl --lang en check --format json outbox/*.xlsx
    """: """检查单位填好的工作簿：按名称读取每个值，套用审核规则。

        可以给出工作簿、Word 附件（.docx：每张自评表格为一个项目）、.zip 压缩包（检查其中的工作簿）
        和文件夹（与 collect 一样查找其中的文件）；其中未检查的文件也会列出。

        没有文件有错误时退出码为 0（警告不算，除非使用 --strict），有错误时为 1。

        \b
        例如：
          perfeval-xl check 109101_攀枝花市区委宣传部_2022年媒体合作项目.xlsx
          perfeval-xl check 收件箱 附件.zip
        """,
    "Human text grouped by file, or JSON for machines.": (
        "text：按文件列出问题；json：供其他程序读取的 JSON。"
    ),
    "Warnings count as errors for the exit code.": "警告也按错误计入退出码。",
    "The office's key file: verify the signature of the issued values.": (
        "财政部门的密钥文件：核验下发数值的签名。"
    ),
    "Open password for encrypted workbooks (decrypted in memory).": (
        "加密工作簿的打开密码（只在内存中解密）。"
    ),
    "Read the open password from this file (keeps it out of the shell history).": (
        "从此文件读取打开密码（密码不会留在命令历史中）。"
    ),
    # -- rules
    """Print every check's code, severity, what it checks, why and how to fix (Markdown).

    \b
    Example:
      perfeval-xl rules > docs/rules.md
    """: """列出全部检查规则（Markdown 格式）：代码、级别、检查内容、原因和改正方法。

        \b
        例如：
          perfeval-xl rules > 检查规则.md
        """,
    # -- forms
    """List the forms (the office's --forms folder and the built-in ones), or show one form's
    roster columns and named ranges.

    \b
    Examples:
      perfeval-xl forms
      perfeval-xl forms sichuan-2022
      perfeval-xl forms national-2020 --toml > my-form.toml
      perfeval-xl forms --forms 表式
    """: """列出可用的表式（--forms 文件夹中本单位的表式和内置表式），或显示一个表式的名册列和命名区域。

        \b
        例如：
          perfeval-xl forms sichuan-2022
          perfeval-xl forms national-2020 --toml > 本县表式.toml
          perfeval-xl forms --forms 表式
        """,
    "Print the form's spec file (to copy it as the start of an office's own form).": (
        "输出该表式的定义文件（.toml），复制后改成本单位自己的表式。"
    ),
    # -- collect
    """Collect an inbox: check every workbook (also in .zip attachments) and write the
    department summary workbook; with --feedback, each unit's workbook back, marked.

    Exit code 0 when no file has errors (warnings allowed unless --strict), 1 when any has.

    What was received is kept in a store beside the summary (汇总.sqlite): a second run reads
    only new or changed files, and a summary whose inputs did not change is left as it is.

    \b
    Example:
      perfeval-xl collect inbox/ -o 2022汇总.xlsx --roster projects.xlsx
    """: """汇总收件箱：检查每个工作簿（含 .zip 附件中的），写出部门汇总表；加 --feedback
        时，把每个单位的工作簿标好问题后退回。

        没有文件有错误时退出码为 0（警告不算，除非使用 --strict），有错误时为 1。

        收到的内容保存在汇总表旁的汇总库（汇总.sqlite）中：再次运行时只读取新增或改动过的
        文件；收件箱、名册和规则都没有变化时，汇总表保持原样。

        \b
        例如：
          perfeval-xl collect 收件箱 -o 汇总.xlsx --roster 名册.csv --feedback 退回
        """,
    "Also write each unit its workbook back, marked, into this folder (see `feedback`).": (
        "同时把每个单位的工作簿标好问题，写到这个文件夹里退回（见 feedback 命令）。"
    ),
    "The office's contact line on every 审核意见 sheet (who to call, phone).": (
        "写在每份「审核意见」上的财政部门联系方式（联系人、电话）。"
    ),
    "The review date on every 审核意见 sheet, as 2023-03-01.  [default: today]": (
        "写在每份「审核意见」上的审核日期，如 2023-03-01。  [默认：今天]"
    ),
    # -- feedback
    """Give every unit its workbook back: a fresh template of its form with its values, each
    finding as a note and a mark on its cell, and a first sheet 审核意见; per department a .zip
    and 审核结果.xlsx, and 未报送.xlsx (催报) with --roster. Nothing in INBOX is changed.

    Exit code 0 when no file has errors, 1 when any has (as `collect`).

    \b
    Example:
      perfeval-xl feedback inbox/ -o 退回 --roster roster.csv --contact "绩效股 0812-1234567"
    """: """把每个单位的工作簿退回：同一表式的新模板，填好单位原来的内容，每个问题在所在单元格
        加批注和标记，第一个工作表为「审核意见」；每个主管部门一个压缩包和「审核结果.xlsx」，
        有 --roster 时另有「未报送.xlsx」（催报清单）。收件箱中的文件一概不动。

        没有文件有错误时退出码为 0，有错误时为 1（与 collect 相同）。

        \b
        例如：
          perfeval-xl feedback 收件箱 -o 退回 --roster 名册.csv --contact 张三
        """,
    "The folder to write into (an earlier run's files it no longer needs are removed).": (
        "写入的文件夹（上次写入、本次不再需要的文件会被删除，别的文件不动）。"
    ),
    "CSV or XLSX roster (as for `template`): issued values, 未收到 and 催报 list.": (
        "项目名册（CSV 或 XLSX，与 template 所用的相同）：预填的数值、未收到的项目和催报清单。"
    ),
    "The summary workbook to write (atomically; never read as input).": (
        "要写出的汇总表（写完整后才替换原文件；不会被当作输入读取）。"
    ),
    "CSV or XLSX roster (as for `template`): expected versus received.": (
        "项目名册（CSV 或 XLSX，与 template 所用的相同）：对照应收与已收。"
    ),
    "The form whose column names the roster uses.": "名册的列名按哪个表式解释。",
    "Also write every file's check result and the department figures as JSON.": (
        "另外把每个文件的检查结果和各部门的数字写成 JSON 文件。"
    ),
    "No progress bar.": "不显示进度条。",
    "The store of everything received (SQLite): files read before and unchanged are "
    "not read again.  [default: beside the summary, 汇总.sqlite]": (
        "汇总库（SQLite 文件），保存收到的全部内容：读过且未改动的文件不再重读。"
        "  [默认：汇总表旁，如 汇总.sqlite]"
    ),
    "Keep no store: read every file, as before.": "不使用汇总库：每个文件都重新读取。",
    "Another store to take last year's figures from for the 同比 sheet.": (
        "从另一个汇总库取上一年度的数字，生成「同比」工作表。"
    ),
    "Processes to use.  [default: all cores]": "使用的进程数。  [默认：全部 CPU 核心]",
    # -- publish
    """Write the annex a department publishes with its final accounts (附件, 部门决算公开):
    one Word table per project, in its form's layout, grouped by 主管部门. Projects whose files
    have errors are refused (exit code 1, each named) unless --include-errors.

    \b
    Example:
      perfeval-xl publish inbox/ -o 附件2.docx --dept 109101 --pdf
    """: """生成部门决算公开的绩效自评附件（Word）：每个项目一张表，按其表式排版，按主管部门
        分组。文件有错误的项目不予公开（逐个列出，退出码为 1），除非使用 --include-errors。

        \b
        例如：
          perfeval-xl publish 收件箱 -o 附件2.docx --dept 109101 --pdf
        """,
    "The Word annex to write (atomically), outside the inbox.": (
        "要写出的 Word 附件（写完整后才替换原文件），须在收件箱以外。"
    ),
    "CSV or XLSX roster (as for `template`): its issued values are the ones published.": (
        "项目名册（CSV 或 XLSX，与 template 所用的相同）：公开的是名册预填的数值。"
    ),
    "Publish the projects of this 主管部门 code only.": "只公开这个主管部门代码的项目。",
    "Publish projects whose files have errors too (refused by default).": (
        "文件有错误的项目也照样公开（默认不予公开）。"
    ),
    "Also print the annex as PDF beside it (LibreOffice).": (
        "同时在旁边生成 PDF（用 LibreOffice 转换）。"
    ),
    # -- demo
    """Run the whole workflow on the built-in sample data (the seed form's three projects):
    roster → templates → filled copies → collect → summary and returned workbooks.

    \b
    Example:
      perfeval-xl demo perfeval-demo
    """: """用内置的示例数据（种子表的三个项目）把整个流程跑一遍：名册 → 模板 → 填好的工作簿 →
        汇总表和退回各单位的工作簿。

        \b
        例如：
          perfeval-xl demo 演示
        """,
    # -- serve
    """Serve the units' upload pages on the office's intranet.

    Each 实施单位 of the roster gets its own link (written to WORKSPACE/links.csv, for the
    office to send); on its page a unit downloads its pre-filled templates, uploads its filled
    workbooks and sees every finding and its score at once. Accepted uploads go to
    WORKSPACE/inbox, which `collect` reads.

    \b
    Example:
      perfeval-xl serve 2022报送 --roster projects.xlsx --host 0.0.0.0
    """: """在单位内网上开设各单位的网上报送页面。

        名册中每个实施单位有自己的专用链接（写在 WORKSPACE/links.csv 里，由财政部门发给各单位）；
        单位在自己的页面上下载预填好的模板、上传填好的工作簿，立即看到每个问题和得分。收下的文件
        放在 WORKSPACE/inbox，可直接用 collect 汇总。

        \b
        例如：
          perfeval-xl serve 报送 --roster 名册.csv --host 0.0.0.0
        """,
    "CSV or XLSX roster (as for `template`): the units and their projects.": (
        "项目名册（CSV 或 XLSX，与 template 所用的相同）：各实施单位及其项目。"
    ),
    "The office's key file: templates are signed, uploads verified.": (
        "财政部门的密钥文件：下载的模板带签名，上传的文件核验签名。"
    ),
    "Address to listen on.": "监听的地址（只在本机使用时保持默认；供内网访问时用 0.0.0.0）。",
    "The address units reach the server by, for the links.  [default: http://HOST:PORT]": (
        "各单位访问本服务所用的地址，用于生成链接。  [默认：http://HOST:PORT]"
    ),
    "Largest upload accepted, in MiB.": "单个上传文件的大小上限（MB）。",
    "Set the office's login password from this file (kept only as a hash); without it, "
    "one is made and printed at the first start.": (
        "从此文件读取财政部门页面的登录密码（只保存其哈希值）；不指定时，首次启动自动生成并显示一次。"
    ),
    "Replace this unit's link (its old link stops working) and exit.": (
        "为这个单位更换链接（旧链接随即失效），然后退出。"
    ),
}

#: click's own words (its gettext message ids, click 8.x) → Chinese. Names click quotes with
#: repr() ('--nope') are shown bare or in 「」; messages end without a full stop, as ours do.
#: "%(prog)s, version %(version)s" stays English: scripts read `--version`.
CLICK: dict[str, str] = {
    # help pages
    "Usage:": "用法：",
    "Options": "选项",
    "Positional arguments": "参数",
    "Commands": "命令",
    "default: {default}": "默认：{default}",
    "env var: {var}": "环境变量：{var}",
    "required": "必填",
    "(dynamic)": "（动态）",
    "deprecated": "已弃用",
    # usage errors
    "Error: {message}": "错误: {message}",
    "Try '{command} {option}' for help.": "查看帮助：{command} {option}",
    "No such option {name!r}.": "没有这个选项：{name}",
    "No such command {name!r}.": "没有这个命令：{name}",
    "Did you mean {possibility}?": "（是不是要用 {possibility}？）",
    "(Did you mean one of: {possibilities}?)": "（是不是要用其中之一：{possibilities}？）",
    "Missing command.": "缺少命令",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing parameter: {param_name}": "缺少参数 {param_name}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Got unexpected extra argument ({args})": "多余的参数：{args}",
    "Got unexpected extra arguments ({args})": "多余的参数：{args}",
    "Option {name!r} does not take a value.": "选项 {name} 后面不能带值",
    "Option {name!r} requires an argument.": "选项 {name} 后面须给出一个值",
    "Option {name!r} requires {nargs} arguments.": "选项 {name} 后面须给出 {nargs} 个值",
    "Argument {name!r} takes {nargs} values.": "参数 {name} 须给出 {nargs} 个值",
    "Takes {nargs} values but 1 was given.": "须给出 {nargs} 个值，只给了 1 个",
    "Takes {nargs} values but {len} were given.": "须给出 {nargs} 个值，给了 {len} 个",
    "Value must be an iterable.": "须给出多个值",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "{value!r} is not {choice}.": "「{value}」不是可选的值（只能是 {choice}）",
    "{value!r} is not one of {choices}.": "「{value}」不是可选的值（可选：{choices}）",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内",
    "{value!r} is not a valid {number_type}.": "「{value}」不是有效的{number_type}",
    "{value!r} is not a valid boolean. Recognized values: {states}": (
        "「{value}」不是有效的是/否值（可用：{states}）"
    ),
    "{name} {filename!r} does not exist.": "{name}「{filename}」不存在",
    "{name} {filename!r} is a file.": "「{filename}」是文件，不是{name}",
    "{name} {filename!r} is a directory.": "「{filename}」是文件夹，不是{name}",
    "{name} {filename!r} is not readable.": "{name}「{filename}」没有读取权限",
    "{name} {filename!r} is not writable.": "{name}「{filename}」没有写入权限",
    "{name} {filename!r} is not executable.": "{name}「{filename}」不可执行",
    "Could not open file {filename!r}: {message}": "无法打开文件「{filename}」：{message}",
    "unknown error": "未知错误",
    # prompts and interrupts
    "Aborted!": "已中止",
    "Do you want to continue?": "是否继续？",
    "Repeat for confirmation": "再输入一次以确认",
    "Error: The two entered values do not match.": "错误: 两次输入的值不一致",
    "Error: invalid input": "错误: 输入无效",
    "Press any key to continue...": "按任意键继续…",
}

#: What click puts into some of its messages for a kind of value ({name} of a path, computed
#: when the option is declared, so in English; {number_type} of a number) → Chinese.
CLICK_KINDS: dict[str, str] = {
    "File": "文件",
    "Directory": "文件夹",
    "Path": "路径",
    "integer": "整数",
    "integer range": "整数",
    "float": "数",
    "float range": "数",
}

#: click's placeholders in usage lines → Chinese.
CLICK_METAVARS: dict[str, str] = {"[OPTIONS]": "[选项]", "COMMAND [ARGS]...": "命令 [参数]..."}
