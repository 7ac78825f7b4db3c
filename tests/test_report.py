"""`make report` on the tiny default workflow, opened in headless Chromium.

The test copies the checkout, puts the tiny config in place of config.yaml, adds the
finished tiny run the other workflow tests share (so make's `snakemake` step finds nothing
to do) and runs `make report` there, exactly as a user would. It then checks the report covers every
final figure and table of every scenario (the inputs of rule `all`), one category per
scenario, each with a rendered caption; opens it in headless Chromium (flags for a closed
network), takes a screenshot, and walks the report's own navigation (category ->
subcategory -> eye button) with a small injected driver that records which results it
reached and whether each image decoded.

Needs Debian's `chromium` (installed with apt-get when root); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from cluster.workflow_runs import final_outputs, reference_run
from conftest import REPO, tiny_config, write_config

pytestmark = [pytest.mark.browser, pytest.mark.workflow]

INSTALL_TIMEOUT_S = 300
FIGURE_SUFFIXES = {".png", ".svg", ".pdf", ".jpg", ".jpeg", ".html"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,1000",
    "--virtual-time-budget=60000",
]
IGNORED = (".git", ".venv", "results", "logs", ".snakemake", "runs", "data", "build",
           "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info")

# Walks the report like a reader: for every category and subcategory it clicks the menu
# entries, then every result row's eye button, and records what was shown. It polls with
# setTimeout (not promises) so that Chromium's virtual time budget waits for it.
DRIVER_JS = r"""
(function () {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const out = { reached: {}, errors: [] };
  const byUri = {};
  for (const [path, entry] of Object.entries(results)) byUri[entry.data_uri] = path;
  const clickText = (text) => {
    const link = Array.from(document.querySelectorAll("nav a"))
      .find((a) => a.textContent.trim() === text);
    if (!link) throw new Error(`no navigation entry '${text}'`);
    link.click();
  };
  async function visitRows(category, subcategory) {
    const count = document.querySelectorAll("nav table tbody tr").length;
    for (let i = 0; i < count; i++) {
      const row = document.querySelectorAll("nav table tbody tr")[i];
      const labels = Array.from(row.querySelectorAll("td"))
        .map((td) => td.textContent.trim()).filter((text) => text);
      const button = row.querySelector("td:last-child a");
      let path, shown = {};
      if (button.hasAttribute("download")) {
        path = byUri[button.getAttribute("href")];
        shown = { kind: "download" };
      } else {
        button.click();
        let img, frame;
        for (let k = 0; k < 2000; k++) {
          await sleep(10);
          img = document.querySelector("#app img:not(.h-4)");
          frame = document.querySelector("#app iframe");
          if ((img && img.complete && img.naturalWidth > 0) || frame) break;
        }
        if (img) {
          path = byUri[img.getAttribute("src")];
          shown = { kind: "img", width: img.naturalWidth, height: img.naturalHeight };
        } else if (frame) {
          path = byUri[frame.getAttribute("src")];
          shown = { kind: "iframe" };
        }
      }
      if (path === undefined) {
        out.errors.push(`row ${labels} of ${category}/${subcategory} shows no known result`);
        continue;
      }
      out.reached[path] = { category, subcategory, labels, ...shown };
    }
  }
  async function run() {
    for (let i = 0; i < 200 && typeof app === "undefined"; i++) await sleep(50);
    const single = Object.keys(categories).length === 1;
    for (const category of Object.keys(categories).sort()) {
      const subcategories = Object.keys(categories[category]).sort();
      for (const subcategory of subcategories) {
        app.setView({ navbarMode: "menu" });
        await sleep(50);
        clickText(single ? "Results" : category);
        await sleep(50);
        if (subcategories.length > 1) {
          clickText(subcategory);
          await sleep(50);
        }
        await visitRows(category, subcategory);
      }
    }
  }
  run().catch((err) => out.errors.push(String((err && err.stack) || err))).finally(() => {
    const pre = document.createElement("pre");
    pre.id = "report-check";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  });
})();
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of Debian's chromium, installed with apt-get if missing and possible."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and apt-get (as root) is not available")
    try:
        subprocess.run(
            ["apt-get", "update", "-qq"], check=False, capture_output=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
            check=False, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"apt-get install chromium took over {INSTALL_TIMEOUT_S} s")
    found = shutil.which("chromium")
    if proc.returncode != 0 or not found:
        pytest.skip(f"chromium not installable: {proc.stderr.strip()[-300:]}")
    return found


def copy_checkout(dest: Path) -> Path:
    """The project's files (tracked and untracked, not ignored) copied to `dest`."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=False, capture_output=True, text=True,
    )
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.split("\0")):
            src = REPO / name
            if src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)  # keeps mtimes: make sees the venv stamp fresh
    else:  # not a git checkout
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*IGNORED), dirs_exist_ok=True)
    return dest


def make_report(checkout: Path) -> str:
    """`make report` in `checkout`, with this interpreter's venv; returns make's output."""
    venv = Path(sys.executable).parent.parent
    stamp = subprocess.run(
        ["cksum", "pyproject.toml"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    proc = subprocess.run(
        ["make", "-C", str(checkout), "report", "CORES=2", f"VENV={venv}",
         "-o", f"{venv}/.installed-{stamp}"],  # the venv is installed: never pip from a test
        check=False, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"make report failed:\n{output[-5000:]}"
    return output


def embedded(html: str, name: str):
    """A JSON object the report embeds as `<script id=name> var name = {...};`."""
    match = re.search(rf'<script id="{name}">\s*var {name} = (.*?);\s*</script>', html, re.DOTALL)
    assert match, f"report.html embeds no `{name}`"
    return json.loads(match.group(1))


def run_chromium(binary: str, profile: Path, url: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, url],
        check=False, capture_output=True, text=True, timeout=180,
    )


def assert_screenshot(path: Path) -> None:
    from PIL import Image

    assert path.is_file(), f"chromium wrote no screenshot {path}"
    with Image.open(path) as image:
        assert image.size == (1400, 1000), image.size
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is None or len(colors) > 50, f"{path} looks blank ({len(colors)} colours)"


def test_make_report_opens_in_chromium_with_every_figure(chromium, tmp_path, tmp_path_factory):
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    reference = reference_run(tmp_path_factory)
    checkout = copy_checkout(tmp_path / "checkout")
    write_config(checkout, tiny_config())
    for name in ("results", "logs", "benchmarks/runs", ".snakemake"):
        if (reference / name).exists():  # copytree keeps mtimes: the run stays up to date
            shutil.copytree(reference / name, checkout / name, dirs_exist_ok=True)
    make_report(checkout)
    report = checkout / "results" / "default" / "report.html"
    assert report.is_file(), "make report wrote no results/default/report.html"
    html = report.read_text()
    results = embedded(html, "results")
    categories = embedded(html, "categories")

    # every final figure (in one of its formats) and every final table is in the report
    final = final_outputs((reference / "snakemake.out").read_text())
    figures: dict[str, list[str]] = {}
    for path in final:
        if Path(path).suffix in FIGURE_SUFFIXES:
            figures.setdefault(str(Path(path).with_suffix("")), []).append(path)
    assert figures, f"rule all requests no figure: {final}"
    for stem, formats in figures.items():
        assert set(formats) & set(results), f"figure {stem} ({formats}) is not in the report"
    for table in (p for p in final if p.endswith(".tsv")):
        assert table in results, f"table {table} is not in the report"

    # grouped by scenario: one category per scenario (results/<scenario>/...)
    scenario_of = {path: Path(path).parts[2] for path in results}
    for category, subcategories in categories.items():
        members = [p for paths in subcategories.values() for p in paths]
        assert len({scenario_of[p] for p in members}) == 1, f"{category} mixes scenarios"
    for scenario in set(scenario_of.values()):
        in_categories = {c for c, subs in categories.items()
                         for paths in subs.values() for p in paths if scenario_of[p] == scenario}
        assert len(in_categories) == 1, f"scenario {scenario} is split over {in_categories}"

    for path, entry in results.items():
        caption = re.sub(r"<[^>]+>", " ", entry.get("caption") or "").strip()
        assert len(caption) > 20, f"{path} has no caption"
        assert "{{" not in caption and "}}" not in caption, f"{path}: unrendered caption"

    # the report opens: a screenshot of its first page
    profile = tmp_path / "chromium-profile"
    shot = tmp_path / "report.png"
    run_chromium(chromium, profile, report.as_uri(), f"--screenshot={shot}")
    assert_screenshot(shot)

    # the reader's path to every result, through the report's own navigation
    driven = report.with_name("report-driven.html")
    cut = html.rfind("</body>")
    driven.write_text(f"{html[:cut]}<script>{DRIVER_JS}</script>{html[cut:]}")
    dom = run_chromium(chromium, profile, driven.as_uri(), "--dump-dom").stdout
    match = re.search(r'<pre id="report-check">(.*?)</pre>', dom, re.DOTALL)
    assert match, "the report driver did not finish in Chromium"
    check = json.loads(unescape(match.group(1)))
    assert not check["errors"], check["errors"]
    assert sorted(check["reached"]) == sorted(results), "some results cannot be reached"
    for path, shown in check["reached"].items():
        if results[path]["mime_type"].startswith("image/"):
            assert shown["kind"] == "img" and shown["width"] > 0 and shown["height"] > 0, (
                path, shown)

    # and a screenshot of the last figure the driver opened
    last = tmp_path / "report-figure.png"
    run_chromium(chromium, profile, driven.as_uri(), f"--screenshot={last}")
    assert_screenshot(last)
