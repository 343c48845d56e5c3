"""The package reads in the order the data flows: forms → template → intake → review → office → web,
with a few modules every stage uses (errors, fileio, findings, sign, workers) below them and the
faces (cli, demo, the package itself) above. No module imports one later in the flow, lazily
inside a function included; an import only for type hints (`if TYPE_CHECKING:`) is no import."""

from __future__ import annotations

import ast
from pathlib import Path

import perfeval_xl

PACKAGE = Path(perfeval_xl.__file__).parent
#: Stages in the order the data flows; a module's rank is its stage's.
STAGES = ["forms", "template", "intake", "review", "office", "web"]
#: Used by every stage: below all of them.
SHARED = {"errors", "fileio", "findings", "sign", "textwidth", "workers", "_version", "_xmlsetup"}
#: The faces over the library: above all of it.
FACES = {"cli", "clilang", "clitext", "demo", "__init__", "__main__"}
#: Imports across the rule, each with why it stays: none may be added without saying why here.
ALLOWED: dict[tuple[str, str], str] = {
    # a signature covers what a form issues, and the form says what that is
    ("sign", "forms.spec"): "issuable_fields, a fact of the form, read lazily",
}


def _rank(name: str) -> int:
    stage = name.split(".")[0]
    if stage in STAGES:
        return STAGES.index(stage) + 1
    if name in SHARED:
        return 0
    if name in FACES or stage in ("samples", "workbook_templates"):
        return len(STAGES) + 1
    raise AssertionError(f"module {name} is in no stage: add it to STAGES, SHARED or FACES")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts
        if parts[0] in ("samples", "workbook_templates"):
            continue
        if parts[-1] == "__init__" and len(parts) > 1:
            continue  # a stage's docstring
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package modules `name` imports (relative imports), TYPE_CHECKING blocks left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for b in node.body for n in ast.walk(b)}
    package = name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.level or id(node) in typing_only:
            continue
        base = package[: len(package) - (node.level - 1)]
        target = [*base, *(node.module.split(".") if node.module else [])]
        if ".".join(target) in modules:  # from .x import name
            found.add(".".join(target))
        for alias in node.names:  # from . import x
            if ".".join([*target, alias.name]) in modules:
                found.add(".".join([*target, alias.name]))
    return found


def test_no_module_imports_one_later_in_the_flow():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for used in _imports(name, path, set(modules)):
            if _rank(used) > _rank(name) and (name, used) not in ALLOWED:
                wrong.append(f"{name} imports {used}")
            if _rank(name) == 0 and _rank(used) > 0 and (name, used) not in ALLOWED:
                wrong.append(f"{name} (used by every stage) imports {used}")
    assert not sorted(set(wrong))


def test_every_module_is_in_a_stage():
    for name in _modules():
        _rank(name)


def test_no_import_cycles():
    """No two modules import each other, directly or round about (within a stage too): the
    reader's core (`intake.reader`) is below both workbook back-ends, the text measure
    (`textwidth`) below the report and the summary."""
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        for used in sorted(graph[name]):
            if used in path:
                cycles.append(" → ".join([*path[path.index(used) :], used]))
            elif used not in done:
                visit(used, [*path, used])
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert not cycles


def test_openpyxl_private_parts_are_used_in_one_module_only():
    """Only `intake.oxlprivate` imports a private openpyxl module (a name with `._` or a name
    starting with `_`): an openpyxl upgrade that changes them breaks one place, named below."""
    users = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("openpyxl"):
                private = "._" in node.module or any(a.name.startswith("_") for a in node.names)
                if private:
                    users.append(name)
    assert set(users) == {"intake.oxlprivate"}


def test_the_private_openpyxl_parts_still_do_what_we_use_them_for():
    """Each name of `PRIVATE_USES` exists, and both helpers give what openpyxl's own load
    gives: a formula cell's formula, and the workbook part of a real template."""
    import importlib
    import io
    import zipfile
    from xml.etree.ElementTree import fromstring

    from openpyxl.packaging.manifest import Manifest

    from perfeval_xl import build_template, load_spec
    from perfeval_xl.intake import oxlprivate

    for module, names in oxlprivate.PRIVATE_USES.items():
        found = importlib.import_module(module)
        for name in names:
            got = found
            for part in name.split("."):
                got = getattr(got, part, None)
            assert got is not None, f"{module}.{name} is gone: see perfeval_xl/intake/oxlprivate.py"
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    cell = fromstring(f'<c xmlns="{main}" r="B2"><f>SUM(A1:A3)</f><v>6</v></c>')
    assert oxlprivate.formula_parser().parse_formula(cell) == "=SUM(A1:A3)"
    data = build_template(load_spec("national-2020"))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        manifest = Manifest.from_tree(fromstring(z.read("[Content_Types].xml")))
    assert oxlprivate.workbook_part(manifest) == "xl/workbook.xml"
