"""The command line: every error a user can fix is one sentence and an exit code; --debug keeps tracebacks."""

from __future__ import annotations

from pathlib import Path

from support import run_cli


def test_a_user_error_is_one_sentence_without_a_traceback(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout + result.stderr == (
        f"trust:1:1: error: no trust/ folder in {tmp_path.resolve()} (the working tree); run the command from the "
        "project root, or start one with `trustcenter init`\n"
        "check failed: 1 error(s), 0 warning(s)\n")


def test_debug_shows_the_traceback_of_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text("plugins: [{trustcenter: [not, a, mapping]}]\n")
    plain = run_cli("check", cwd=tmp_path)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr == "error: mkdocs.yml: the options of the trustcenter plugin must be a mapping\n"
    debug = run_cli("--debug", "check", cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ProjectError" in debug.stderr


def test_an_os_error_is_one_sentence_naming_the_file(tmp_path: Path) -> None:
    result = run_cli("init", "/proc/not-here/trust", cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()  # one sentence: the system's reason, then the file
    assert line.startswith("error: ") and line.endswith(": /proc/not-here")
