"""The package reads as layers, and the import rules between them hold.

Layers of ``src/advtransfer`` (README "How the code is laid out"):

* ``core``: the paper's math; imports nothing else from the package.
* helpers (top-level modules: io, config, plots, fitting, jobs, and the public re-exports
  metrics / theory): import only ``core`` and each other.
* ``images``: machinery shared by the image scenarios; imports ``core`` and the helpers.
* scenarios (synthetic, distributions, attributes, tasks, nlp, leaderboard, byo, zoo): import
  ``core``, ``images``, the helpers and themselves, never another scenario.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import REPO

PKG = REPO / "src" / "advtransfer"
SCENARIOS = ("synthetic", "distributions", "attributes", "tasks", "nlp", "leaderboard", "byo",
             "zoo")
SHARED = ("core", "images")


def _layer(parts: tuple[str, ...]) -> str:
    """Layer of a module given its dotted parts below ``advtransfer``."""
    if not parts or parts[0] == "__init__":
        return "package"
    head = parts[0]
    if head in SCENARIOS or head in SHARED:
        return head
    return "helpers"


def _module_parts(path: Path, pkg: Path = PKG) -> tuple[str, ...]:
    rel = path.relative_to(pkg).with_suffix("")
    parts = rel.parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path, pkg: Path = PKG) -> list[tuple[int, str, str]]:
    """``(line, imported dotted module below advtransfer, source line)`` of every import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = path.read_text().splitlines()
    here = _module_parts(path, pkg)
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(("advtransfer", *base, *([node.module] if node.module else [])))
            else:
                mod = node.module or ""
            targets = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            if mod == "advtransfer":
                targets = [f"advtransfer.{a.name}" for a in node.names]
        for target in targets:
            if target == "advtransfer" or target.startswith("advtransfer."):
                found.append((node.lineno, target.removeprefix("advtransfer").lstrip("."),
                              lines[node.lineno - 1].strip()))
    return found


def _allowed(src_layer: str, dst_layer: str) -> bool:
    if dst_layer == "package":
        return src_layer == "package"
    if src_layer == "core":
        return dst_layer == "core"
    if src_layer == "helpers":
        return dst_layer in ("core", "helpers")
    if src_layer == "images":
        return dst_layer in ("core", "helpers", "images")
    if src_layer in SCENARIOS:
        return dst_layer in ("core", "helpers", "images", src_layer)
    return True  # the lazy package __init__


MODULES = sorted(PKG.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_import_rules(path):
    src_layer = _layer(_module_parts(path))
    bad = []
    for line, target, text in _imports(path):
        dst_layer = _layer(tuple(target.split(".")) if target else ())
        if not _allowed(src_layer, dst_layer):
            bad.append(f"{path.relative_to(REPO)}:{line}: {text}  ({src_layer} -> {dst_layer})")
    assert not bad, "import rule broken:\n" + "\n".join(bad)


def test_checker_catches_a_broken_rule(tmp_path):
    """The checker itself flags a core module that imports a scenario (absolute or relative)."""
    fake = tmp_path / "advtransfer"
    (fake / "core").mkdir(parents=True)
    bad = fake / "core" / "bad.py"
    bad.write_text("from advtransfer.tasks import graph\nfrom . import tau\nfrom ..nlp import data\n")
    found = _imports(bad, fake)
    assert [t for _, t, _ in found] == ["tasks", "core.tau", "nlp"]
    layers = [_layer(tuple(t.split("."))) for _, t, _ in found]
    assert [_allowed("core", layer) for layer in layers] == [False, True, False]
    assert not _allowed("tasks", "nlp") and _allowed("tasks", "images")
    assert not _allowed("images", "attributes") and not _allowed("helpers", "images")


def test_every_scenario_has_rules_scripts_and_a_subpackage():
    for scenario in SCENARIOS:
        assert (REPO / "rules" / f"{scenario}.smk").is_file(), scenario
        assert (PKG / scenario / "__init__.py").is_file(), scenario
        doc = (PKG / scenario / "__init__.py").read_text()
        assert f"rules/{scenario}.smk" in doc, f"{scenario}/__init__.py names its rule file"
    for folder in (REPO / "scripts").iterdir():
        if folder.is_dir() and folder.name != "__pycache__":
            # transfer: the shared image stages; report: the run-wide pages
            assert folder.name in (*SCENARIOS, "transfer", "report"), \
                f"scripts/{folder.name} has no scenario"


def test_no_script_edits_sys_path():
    offenders = [
        f"{p.relative_to(REPO)}:{i}: {line.strip()}"
        for p in sorted((REPO / "scripts").rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"sys\.path", line)
    ]
    assert not offenders, "scripts must not edit sys.path:\n" + "\n".join(offenders)


def test_every_script_uses_the_shared_preamble():
    missing = [
        str(p.relative_to(REPO))
        for p in sorted((REPO / "scripts").rglob("*.py"))
        if "start_job(snakemake)" not in p.read_text()
    ]
    assert not missing, f"scripts without `smk, log = start_job(snakemake)`: {missing}"


def test_one_definition_per_measure_list():
    """ADVERSARIAL_MEASURES / KNOWLEDGE_MEASURES are defined (assigned) in core.names only."""
    owners = {}
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and t.id in ("KNOWLEDGE_MEASURES",
                                                            "ADVERSARIAL_MEASURES"):
                        owners.setdefault(t.id, []).append(str(path.relative_to(PKG)))
    assert owners["KNOWLEDGE_MEASURES"] == ["core/names.py"]
    # attributes re-exports it (an alias, not a definition of its own)
    assert sorted(owners["ADVERSARIAL_MEASURES"]) == ["attributes/experiment.py", "core/names.py"]
    aliased = ast.parse((PKG / "attributes/experiment.py").read_text())
    values = [n.value for n in ast.walk(aliased) if isinstance(n, (ast.Assign, ast.AnnAssign))
              and any(isinstance(t, ast.Name) and t.id == "ADVERSARIAL_MEASURES"
                      for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
    assert all(isinstance(v, ast.Attribute) for v in values), "use core.names' list as is"


def test_no_private_copies_of_the_shared_checks():
    copies = [
        f"{p.relative_to(PKG)}"
        for p in MODULES
        if re.search(r"^def (_check_positive_int|check_batch_size|eval_mode|model_device)\b",
                     p.read_text(), flags=re.M)
        and p.name not in ("checks.py", "modelutils.py")
    ]
    assert not copies, f"use advtransfer.core.checks / modelutils instead: {copies}"


def test_readme_metric_example_runs():
    """The README's metric-library example runs as printed (public API kept)."""
    import torch
    from torch import nn

    text = (REPO / "README.md").read_text()
    block = text.split("## The metric library", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert "from advtransfer.metrics import" in block
    torch.manual_seed(0)
    namespace = {
        "source": nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)),
        "target": nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4)),
        "x": torch.randn(16, 5),
    }
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    res = namespace["res"]
    assert 0 <= float(res["tau1"]) <= 1 and 0 <= float(res["tau2"]) <= 1
    from advtransfer import theory
    from advtransfer.core import theory as core_theory

    assert theory.theorem1_rhs is core_theory.theorem1_rhs


def test_no_function_body_over_65_lines():
    """Long functions are split where a reader would name the parts (docstrings excluded)."""
    long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if (body and isinstance(body[0], ast.Expr)
                        and isinstance(getattr(body[0], "value", None), ast.Constant)
                        and isinstance(body[0].value.value, str)):
                    body = body[1:]
                if body and body[-1].end_lineno - body[0].lineno + 1 > 65:
                    long.append(f"{path.relative_to(PKG)}:{node.lineno} {node.name} "
                                f"({body[-1].end_lineno - body[0].lineno + 1} lines)")
    assert not long, "split these functions:\n" + "\n".join(long)


def test_rules_write_only_under_the_run_folder():
    """Every path of a rule goes through result() / logfile() / benchfile(), so that two
    configs with different `run` names never write to the same file."""
    literal = re.compile(r"""(?<![\w(])f?["'](results|logs|benchmarks/runs)/""")
    offenders = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((REPO / "rules").rglob("*.smk"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if not line.lstrip().startswith("#") and literal.search(line)
        and "{RUN}/" not in line  # the three helpers themselves (rules/common.smk)
    ]
    assert not offenders, "paths outside results/<run>/:\n" + "\n".join(offenders)
