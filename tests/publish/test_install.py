"""The generator a new repository pins: each way pip installed it gives a line CI can install again.

The slow tests do what a user and CI do, in fresh virtual environments: install the generator from a
git URL or a wheel, `trustcenter init`, then run the install step of the pipeline `init` wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from support import REPO, git, git_repo, serve_directory

from generator.publish import install, scaffold

VERSION = "0.1.0"
COMMIT = "4f2d0c9a1b3e5f708192a3b4c5d6e7f8091a2b3c"
WHEEL = "trustcenter-0.1.0-py3-none-any.whl"
SHA256 = "96107b97d8a5da795ba27d23e5e6114def9924f1d10025fb08cd01af2edbad51"


# direct_url.json, one shape at a time (as pip writes them, PEP 610)

def test_a_generator_from_an_index_is_pinned_by_version() -> None:
    pin = install.pin(None, VERSION)
    assert pin.requirement == "trustcenter==0.1.0"
    assert pin.warnings == () and pin.vendored is None


def test_a_generator_from_git_is_pinned_to_the_commit_not_the_requested_tag() -> None:
    direct_url = {"url": "https://github.com/acme/trustcenter",
                  "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "v0.1.0"}}
    pin = install.pin(direct_url, VERSION)
    assert pin.requirement == f"trustcenter @ git+https://github.com/acme/trustcenter@{COMMIT}"
    assert pin.warnings == ()
    assert "v0.1.0" in pin.as_text().splitlines()[0]


def test_a_generator_from_a_git_subdirectory_keeps_the_subdirectory() -> None:
    direct_url = {"url": "ssh://git@git.example.test/tools/mono.git", "subdirectory": "trustcenter",
                  "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    assert install.pin(direct_url, VERSION).requirement == (
        f"trustcenter @ git+ssh://git@git.example.test/tools/mono.git@{COMMIT}#subdirectory=trustcenter")


def test_a_generator_from_a_git_repository_on_this_computer_is_pinned_with_a_warning() -> None:
    direct_url = {"url": "file:///srv/git/trustcenter", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    pin = install.pin(direct_url, VERSION)
    # With a host: pip before 24.1 refuses git+file:///... ("Invalid requirement").
    assert pin.requirement == f"trustcenter @ git+file://localhost/srv/git/trustcenter@{COMMIT}"
    assert len(pin.warnings) == 1 and "file:///srv/git/trustcenter" in pin.warnings[0]


def test_a_generator_from_an_archive_url_is_pinned_with_its_hash_in_the_url() -> None:
    # In the fragment, not as --hash=: that option would make pip demand hashes for every dependency.
    url = f"https://downloads.example.test/{WHEEL}"
    new_style = {"url": url, "archive_info": {"hash": f"sha256={SHA256}", "hashes": {"sha256": SHA256}}}
    old_style = {"url": url, "archive_info": {"hash": f"sha256={SHA256}"}}
    for direct_url in (new_style, old_style):
        pin = install.pin(direct_url, VERSION)
        assert pin.requirement == f"trustcenter @ {url}#sha256={SHA256}"
        assert pin.warnings == ()


def test_a_generator_from_an_archive_url_without_a_hash_is_pinned_by_url() -> None:
    url = f"https://downloads.example.test/{WHEEL}"
    assert install.pin({"url": url, "archive_info": {}}, VERSION).requirement == f"trustcenter @ {url}"


def test_a_generator_from_a_local_wheel_is_copied_into_vendor(tmp_path: Path) -> None:
    wheel = tmp_path / "dist" / WHEEL
    wheel.parent.mkdir()
    wheel.write_bytes(b"a wheel")
    digest = hashlib.sha256(b"a wheel").hexdigest()
    pin = install.pin({"url": wheel.as_uri(), "archive_info": {"hashes": {"sha256": digest}}}, VERSION)
    assert pin.requirement == f"./vendor/{WHEEL}"
    assert pin.vendored == wheel and pin.warnings == ()


def test_a_local_wheel_that_changed_since_it_was_installed_is_not_copied(tmp_path: Path) -> None:
    wheel = tmp_path / WHEEL
    wheel.write_bytes(b"rebuilt since")
    pin = install.pin({"url": wheel.as_uri(), "archive_info": {"hashes": {"sha256": SHA256}}}, VERSION)
    assert pin.requirement == "trustcenter==0.1.0" and pin.vendored is None
    assert len(pin.warnings) == 1 and "changed since" in pin.warnings[0]


def test_a_local_wheel_that_is_gone_leaves_a_version_pin_and_a_warning(tmp_path: Path) -> None:
    pin = install.pin({"url": (tmp_path / WHEEL).as_uri(), "archive_info": {}}, VERSION)
    assert pin.requirement == "trustcenter==0.1.0"
    assert len(pin.warnings) == 1 and "no longer exists" in pin.warnings[0]
    assert "edit requirements.txt" in pin.warnings[0]


def checkout(folder: Path, origin: str | None, pushed: bool = True) -> str:
    """A git checkout of the generator at folder with `origin` set; returns HEAD."""
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "trustcenter"\n')
    git_repo(folder)
    if origin:
        git(folder, "remote", "add", "origin", origin)
    if origin and pushed:  # what a fetch from origin leaves behind
        git(folder, "update-ref", "refs/remotes/origin/main", "HEAD")
    return git(folder, "rev-parse", "HEAD").strip()


def editable(folder: Path) -> dict[str, object]:
    return {"url": folder.as_uri(), "dir_info": {"editable": True}}


def test_an_editable_checkout_is_pinned_to_origin_at_head(tmp_path: Path) -> None:
    head = checkout(tmp_path / "trustcenter", "https://x-access-token:ghs_secret@github.com/acme/trustcenter.git")
    pin = install.pin(editable(tmp_path / "trustcenter"), VERSION)
    # The token in the clone URL stays out of a file that gets committed.
    assert pin.requirement == f"trustcenter @ git+https://github.com/acme/trustcenter.git@{head}"
    assert pin.warnings == ()


def test_a_checkout_cloned_over_ssh_is_pinned_by_its_ssh_url_with_a_warning(tmp_path: Path) -> None:
    head = checkout(tmp_path / "trustcenter", "git@github.com:acme/trustcenter.git")
    pin = install.pin({"url": (tmp_path / "trustcenter").as_uri(), "dir_info": {}}, VERSION)
    assert pin.requirement == f"trustcenter @ git+ssh://git@github.com/acme/trustcenter.git@{head}"
    assert len(pin.warnings) == 1 and "SSH key" in pin.warnings[0]


def test_a_checkout_with_changes_or_an_unpushed_head_is_pinned_with_a_warning_for_each(tmp_path: Path) -> None:
    folder = tmp_path / "trustcenter"
    head = checkout(folder, "https://github.com/acme/trustcenter.git", pushed=False)
    (folder / "pyproject.toml").write_text('[project]\nname = "trustcenter"\nversion = "0.2.0"\n')
    pin = install.pin(editable(folder), VERSION)
    assert pin.requirement == f"trustcenter @ git+https://github.com/acme/trustcenter.git@{head}"
    assert len(pin.warnings) == 2
    assert "uncommitted changes" in pin.warnings[0] and "no branch of origin" in pin.warnings[1]


def test_a_package_in_a_subfolder_of_a_checkout_keeps_the_subdirectory(tmp_path: Path) -> None:
    head = checkout(tmp_path / "mono", "https://git.example.test/tools/mono.git")
    (tmp_path / "mono" / "trustcenter").mkdir()
    pin = install.pin(editable(tmp_path / "mono" / "trustcenter"), VERSION)
    assert pin.requirement == (
        f"trustcenter @ git+https://git.example.test/tools/mono.git@{head}#subdirectory=trustcenter")


def test_a_checkout_whose_origin_is_on_this_computer_leaves_a_version_pin_and_a_warning(tmp_path: Path) -> None:
    checkout(tmp_path / "trustcenter", str(tmp_path / "elsewhere"))
    pin = install.pin(editable(tmp_path / "trustcenter"), VERSION)
    assert pin.requirement == "trustcenter==0.1.0"
    assert len(pin.warnings) == 1 and "edit requirements.txt" in pin.warnings[0]
    assert any("git+https://" in line for line in pin.reason), "the comment says what to write instead"


def test_a_folder_that_is_no_git_checkout_leaves_a_version_pin_and_a_warning(tmp_path: Path) -> None:
    pin = install.pin(editable(tmp_path), VERSION)
    assert pin.requirement == "trustcenter==0.1.0"
    assert len(pin.warnings) == 1 and "not a git checkout" in pin.warnings[0]


def test_a_record_of_an_unknown_shape_leaves_a_version_pin_and_a_warning() -> None:
    for direct_url in ({}, {"url": "https://example.test/x", "other_info": {}}):
        pin = install.pin(direct_url, VERSION)
        assert pin.requirement == "trustcenter==0.1.0" and len(pin.warnings) == 1


def test_init_copies_a_vendored_wheel_and_names_it_in_requirements(tmp_path: Path) -> None:
    wheel = tmp_path / WHEEL
    wheel.write_bytes(b"a wheel")
    pin = install.pin({"url": wheel.as_uri(), "archive_info": {}}, VERSION)
    created = scaffold.create(tmp_path / "acme", "Acme", pin=pin)
    assert tmp_path / "acme" / "vendor" / WHEEL in created
    assert (tmp_path / "acme" / "vendor" / WHEEL).read_bytes() == b"a wheel"
    assert requirement_lines(tmp_path / "acme") == [f"./vendor/{WHEEL}"]


# The real thing: the generator installed as a user would, then CI's install step in a fresh virtual environment.
# Dependencies come from a wheelhouse downloaded once (what PyPI gives CI today): each venv then installs
# without the network, and pip never takes the generator itself from there (the wheelhouse has no copy).

def requirement_lines(repo: Path) -> list[str]:
    return [line for line in (repo / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]


def github_install_step(repo: Path) -> str:
    """The `run:` of the Install step of the generated workflow's check job (GitLab runs the same line)."""
    workflow = yaml.safe_load((repo / ".github/workflows/trust-center.yml").read_text())
    [step] = [step for step in workflow["jobs"]["check"]["steps"] if step.get("name", "").startswith("Install")]
    gitlab = yaml.safe_load((repo / ".gitlab-ci.yml").read_text())
    assert step["run"] in gitlab["check"]["script"] and step["run"] in gitlab["pages"]["script"]
    return str(step["run"])


class Venv:
    """A fresh virtual environment, and commands run with its bin/ first on PATH, as CI's runner does."""

    def __init__(self, folder: Path, wheelhouse: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
        self.bin = folder / "bin"
        env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "PYTHONHOME")}
        self.env = {**env, "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(folder),
                    "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run a program of the venv; it must succeed."""
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=cwd, env=self.env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def step(self, script: str, cwd: Path) -> None:
        """Run a CI step's script as GitHub's runner does (bash -e); it must succeed."""
        done = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=600, check=False)
        assert done.returncode == 0, f"{script}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository of this project's files as they are now (committed or not), and its commit."""
    folder = tmp_path_factory.mktemp("generator") / "src"
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():  # a file deleted in the work tree is still listed by --cached
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, folder / name)
    git_repo(folder)
    return folder, git(folder, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def wheel(source: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist),
                    str(source[0])], check=True, capture_output=True, timeout=300)
    [built] = dist.glob("trustcenter-*.whl")
    return built


@pytest.fixture(scope="module")
def wheelhouse(source: tuple[Path, str], wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's dependencies and build requirements, downloaded once from the index."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    with (source[0] / "pyproject.toml").open("rb") as pyproject:
        build_requires = tomllib.load(pyproject)["build-system"]["requires"]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(folder), str(wheel),
                    *build_requires], check=True, capture_output=True, timeout=600)
    for own in folder.glob("trustcenter-*"):
        own.unlink()
    return folder


@pytest.fixture(scope="module")
def maker(wheel: Path, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv with the generator's dependencies, where each test installs the generator its own way."""
    folder = tmp_path_factory.mktemp("maker")
    venv = Venv(folder / "venv", wheelhouse)
    venv.run("pip", "install", "--quiet", str(wheel), cwd=folder)
    return venv


def init_and_commit(maker: Venv, target: Path) -> str:
    """`trustcenter init` from the maker's venv, the placeholders filled in, the first commit; returns stdout."""
    result = maker.run("trustcenter", "init", str(target), "--company", "Acme", cwd=target.parent)
    fill_in(target)
    git_repo(target)
    return result.stdout


def fill_in(repo: Path) -> None:
    """What a company writes before its first push: `check --strict` fails on init's placeholders."""
    company = repo / "trust/company.yaml"
    company.write_text(company.read_text().replace("example.com", "acme-rockets.com"))
    nda = repo / "trust/nda.md"
    nda.write_text(nda.read_text().replace("Replace this text with the agreement your legal team approved",
                                           "This is the agreement our legal team approved"))
    (repo / "trust/controls.yaml").write_text(
        "# yaml-language-server: $schema=../schemas/controls.schema.json\n"
        "categories:\n"
        "  - id: access-control\n"
        "    name: Access control\n"
        "    controls:\n"
        "      - id: AC-01\n"
        "        name: Hardware security keys\n"
        "        description: Everyone at Acme signs in to company systems with a hardware security key.\n"
        "        status: implemented\n"
        "        criteria: [CC6.1]\n")


@pytest.mark.slow
def test_a_repository_made_by_a_generator_from_git_installs_it_in_ci_and_builds(
        source: tuple[Path, str], maker: Venv, wheelhouse: Path, tmp_path: Path) -> None:
    folder, commit = source
    maker.run("pip", "install", "--quiet", "--force-reinstall", "--no-deps", f"git+{folder.as_uri()}@{commit}",
              cwd=tmp_path)
    told = init_and_commit(maker, tmp_path / "acme")
    repo = tmp_path / "acme"
    requirement = f"trustcenter @ git+file://localhost{folder}@{commit}"
    assert requirement_lines(repo) == [requirement]
    assert f"requirements.txt installs the generator as: {requirement}" in told

    ci = Venv(tmp_path / "ci", wheelhouse)
    ci.step(github_install_step(repo), cwd=repo)
    ci.run("trustcenter", "check", "--strict", "--without-gated-files", cwd=repo)
    ci.run("trustcenter", "build", "--without-gated-files", cwd=repo)
    assert (repo / "site" / "index.html").is_file()
    installed = ci.run("python", "-c", "import importlib.metadata as m; "
                       "print(m.distribution('trustcenter').read_text('direct_url.json'))", cwd=repo)
    assert json.loads(installed.stdout)["vcs_info"]["commit_id"] == commit


@pytest.mark.slow
def test_a_repository_made_by_a_generator_from_a_local_wheel_carries_the_wheel_and_installs_it(
        wheel: Path, maker: Venv, wheelhouse: Path, tmp_path: Path) -> None:
    maker.run("pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel), cwd=tmp_path)
    told = init_and_commit(maker, tmp_path / "acme")
    repo = tmp_path / "acme"
    assert (repo / "vendor" / wheel.name).read_bytes() == wheel.read_bytes()
    assert requirement_lines(repo) == [f"./vendor/{wheel.name}"]
    assert f"requirements.txt installs the generator as: ./vendor/{wheel.name}" in told
    assert git(repo, "ls-files", "vendor") == f"vendor/{wheel.name}\n", "the wheel is committed with the rest"

    ci = Venv(tmp_path / "ci", wheelhouse)
    ci.step(github_install_step(repo), cwd=repo)  # from the repository's root, as CI runs it
    version = wheel.name.split("-")[1]
    assert ci.run("trustcenter", "--version", cwd=repo).stdout.split()[-1] == version


@pytest.mark.slow
def test_a_generator_pinned_by_archive_url_installs_with_its_dependencies_and_its_hash_checked(
        wheel: Path, maker: Venv, tmp_path: Path) -> None:
    server, base = serve_directory(wheel.parent)
    try:
        url = f"{base}{wheel.name}"
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        pin = install.pin({"url": url, "archive_info": {"hashes": {"sha256": digest}}}, VERSION)
        (tmp_path / "requirements.txt").write_text(pin.as_text() + "\n")
        # A dry run resolves every dependency: a --hash option would have failed it (--require-hashes mode).
        result = maker.run("pip", "install", "--dry-run", "--ignore-installed", "-r", "requirements.txt", cwd=tmp_path)
        assert "Would install" in result.stdout and "mkdocs-" in result.stdout

        tampered = install.pin({"url": url, "archive_info": {"hashes": {"sha256": "0" * 64}}}, VERSION)
        (tmp_path / "requirements.txt").write_text(tampered.as_text() + "\n")
        refused = subprocess.run([str(maker.bin / "pip"), "install", "--dry-run", "--ignore-installed", "-r",
                                  "requirements.txt"], cwd=tmp_path, env=maker.env, capture_output=True, text=True,
                                 timeout=600, check=False)
        assert refused.returncode != 0 and "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr
    finally:
        server.shutdown()
