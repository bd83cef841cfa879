"""Benchmark links and stamping: tokens minted and verified per second, `trustcenter link create`
wall time, and watermarking a 100-page PDF. Prints figures beside the baseline; asserts nothing.

    .venv/bin/python bench/bench_links.py
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import GATED_ID, TRUST_CENTER_URL, make_project, write_pdf  # noqa: E402

from generator.content.project import Project  # noqa: E402
from generator.gate import keys, tokens, watermark  # noqa: E402

# Goals from the issue, and what this script measured on the reference machine (2 vCPU AMD EPYC,
# Python 3.11, 2026-11-23). A run far below the measured baseline means something regressed.
# On that machine our own code is ~15 ms of `link create`; the rest is Python startup and the
# imports of click, PyJWT + cryptography and PyYAML (the "floor" lines), ~190 ms together.
BASELINE = {
    "mint_per_second": 11_000.0,
    "verify_per_second": 2_900.0,
    "link_create_median_ms": 240.0,
    "watermark_100_pages_median_ms": 20.0,
}
GOALS = {"link_create_median_ms": 150.0, "watermark_100_pages_median_ms": 50.0}


def rate(action: object, seconds: float = 2.0) -> float:
    assert callable(action)
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            action()
        count += 100
    return count / elapsed


def median_ms(command: list[str], environment: dict[str, str], runs: int = 11) -> float:
    subprocess.run(command, capture_output=True, check=True, env=environment)  # warm caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=environment)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def report(name: str, value: float, unit: str, higher_is_better: bool) -> None:
    baseline = BASELINE[name]
    ratio = value / baseline if higher_is_better else baseline / value
    line = f"{name:32} {value:12,.1f} {unit:6} baseline {baseline:10,.1f}  ({ratio:.0%} of baseline)"
    if name in GOALS:
        goal = GOALS[name]
        met = value <= goal if not higher_is_better else value >= goal
        line += f"  goal {'<=' if not higher_is_better else '>='} {goal:g}: {'met' if met else 'NOT met'}"
    print(line)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project = make_project(root)
        pair = keys.create_key_pair(Project.at(project), kid="bench", private_key_path=root / "secrets" / "bench.pem")
        private_key = keys.load_private_key(pair.private_key_path)
        trusted = keys.load_trusted_keys(Project.at(project))
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        link = tokens.Link(tokens.new_link_id(), GATED_ID, "alice@customer.test", "Customer Inc", now,
                          now + dt.timedelta(days=14), 5, False)
        token = tokens.mint(link, private_key=private_key, kid="bench", issuer=TRUST_CENTER_URL)

        report("mint_per_second", rate(lambda: tokens.mint(link, private_key=private_key, kid="bench",
                                                          issuer=TRUST_CENTER_URL)), "/s", True)
        report("verify_per_second", rate(lambda: tokens.verify(token, keys=trusted, issuer=TRUST_CENTER_URL,
                                                              gated_documents={GATED_ID},
                                                              max_lifetime=dt.timedelta(days=30))), "/s", True)

        command = [str(REPO / ".venv" / "bin" / "trustcenter"), "link", "create", GATED_ID, "--to",
                   "alice@customer.test", "--private-key", str(pair.private_key_path), "--project", str(project)]
        # As installed for a user: bytecode cached (CI images often set PYTHONDONTWRITEBYTECODE).
        environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
        environment["TRUSTCENTER_SIGNING_KEY"] = ""
        report("link_create_median_ms", median_ms(command, environment), "ms", False)
        # Where the time goes: the imports the command cannot avoid (click is the CLI, PyJWT on
        # cryptography is the token format, PyYAML reads company.yaml and documents.yaml).
        floor = [("python startup", "pass"), ("+ click", "import click"), ("+ PyJWT, cryptography", "import click, jwt"),
                 ("+ PyYAML", "import click, jwt, yaml")]
        for label, code in floor:
            value = median_ms([sys.executable, "-c", code], environment)
            print(f"{'  floor: ' + label:32} {value:12,.1f} ms")

        source = write_pdf(root / "hundred.pdf", pages=100)
        # With the woven mark, as the gate stamps every download (`trustcenter trace` reads it back).
        stamp = watermark.Stamp("alice@customer.test", "Customer Inc", now.date(), link.link_id,
                                watermark.Mark.new(os.urandom(32)))
        watermark.watermark(source, stamp)
        times = []
        for _ in range(21):
            started = time.perf_counter()
            watermark.watermark(source, stamp)
            times.append((time.perf_counter() - started) * 1000)
        report("watermark_100_pages_median_ms", statistics.median(times), "ms", False)


if __name__ == "__main__":
    main()
