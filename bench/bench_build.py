"""Build speed: the demo build against a bare `mkdocs build` of the same Markdown, scaling, and check.

Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_build.py [--runs N]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import copy_demo, scaled_project

from generator.content import schema
from generator.content.project import Project
from generator.content.validate import load_valid
from generator.site import build, outputs, pages, structure
from generator.site.plugin import THEME_DIR


def median_seconds(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: imports, theme templates, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bare_project(project: Path, dest: Path) -> Path:
    """The same generated Markdown and files as plain docs, built by MkDocs without our plugin."""
    tc = load_valid(Project.at(project))
    docs = dest / "docs"
    for folder in (project / "site_src",):
        for file in folder.rglob("*"):
            if file.is_file():
                target = docs / file.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file.read_bytes())
    data = structure.build(tc)
    generated: dict[str, str] = {**pages.render_pages(data), **outputs.render_outputs(data)}
    generated.update({f"schemas/{p.name}": p.read_text() for p in schema.SCHEMA_DIR.glob("*.schema.json")})
    for src, text in generated.items():
        target = docs / src
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for document in tc.public_documents:
        target = docs / pages.PUBLIC_DOCUMENTS_DIR / document.public_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tc.document_path(document).read_bytes())
    if tc.company.logo:
        (docs / "assets").mkdir(exist_ok=True)
        (docs / "assets" / Path(tc.company.logo).name).write_bytes((tc.root / tc.company.logo).read_bytes())
    config = yaml.safe_load((project / "mkdocs.yml").read_text())
    config["docs_dir"] = "docs"
    config["plugins"] = ["search"]
    config["nav"] = [*pages.nav(tc), {"About this site": "about-this-site.md"}]
    config["site_name"] = tc.company.name + " Trust Center"
    config["theme"]["custom_dir"] = str(THEME_DIR)  # the same templates and assets, without the plugin
    config["exclude_docs"] = "!.well-known/"
    config["strict"] = False
    (dest / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def mkdocs_build(project: Path, site: Path) -> None:
    from mkdocs.commands.build import build as run
    from mkdocs.config import load_config

    run(load_config(config_file=str(project / "mkdocs.yml"), site_dir=str(site)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = copy_demo(root / "demo")
        bare = bare_project(demo, root / "bare")
        ours = median_seconds(lambda: build.build(Project.at(demo), root / "site-ours"), args.runs)
        plain = median_seconds(lambda: mkdocs_build(bare, root / "site-bare"), args.runs)
        print(f"demo build (trustcenter build: check + generate + mkdocs + leak check + swap): {ours * 1000:.0f} ms")
        print(f"bare mkdocs build of the same Markdown:                                  {plain * 1000:.0f} ms")
        print(f"ratio: {ours / plain:.2f}x (goal <= 1.10x)")

        tc = load_valid(Project.at(demo))
        subs = len(tc.subprocessors.subprocessors)
        controls = sum(len(c.controls) for c in tc.controls)
        print(f"\nscaling (demo has {subs} subprocessors, {controls} controls):")
        base = None
        for factor in (1, 10, 100):
            project = scaled_project(root / f"x{factor}", factor)
            seconds = median_seconds(lambda p=project, f=factor: build.build(Project.at(p), root / f"site-x{f}"),
                                     max(1, args.runs // (2 if factor > 10 else 1)))
            base = base or seconds
            print(f"  x{factor:<4} {subs * factor:>5} subprocessors {controls * factor:>6} controls: "
                  f"{seconds * 1000:8.0f} ms  ({seconds / base:5.1f}x the demo)")

        runs = []
        for _ in range(args.runs + 1):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "generator", "check", "--project", str(demo)],
                           check=True, capture_output=True)
            runs.append(time.perf_counter() - started)
        print(f"\ntrustcenter check on the demo (whole command, median of {args.runs}): "
              f"{statistics.median(runs[1:]) * 1000:.0f} ms (goal <= 500 ms)")


if __name__ == "__main__":
    main()
