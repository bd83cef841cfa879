"""The plugin's options in mkdocs.yml (`plugins: - trustcenter: {...}`), each typed and validating itself.

Compare `material/plugins/tags/config.py`. `trust_dir` is also read, without MkDocs, by
`generator.content.project` so that `check` and `link create` find the same folder.
"""

from __future__ import annotations

from mkdocs.config import config_options
from mkdocs.config.base import Config, ValidationError

from generator.content.project import DEFAULT_TRUST_DIR
from generator.publish.history import MAX_COMMITS


class _Folder(config_options.Type[str]):
    """A folder name relative to mkdocs.yml, inside the project."""

    def __init__(self, default: str) -> None:
        super().__init__(str, default=default)

    def run_validation(self, value: object) -> str:
        folder = super().run_validation(value)
        if not folder.strip() or folder.startswith(("/", "~")) or ".." in folder.replace("\\", "/").split("/"):
            raise ValidationError(f"'{folder}' must be a folder inside the project, relative to mkdocs.yml")
        return folder


class _Count(config_options.Type[int]):
    """A whole number within bounds."""

    def __init__(self, default: int, lowest: int, highest: int) -> None:
        super().__init__(int, default=default)
        self.lowest, self.highest = lowest, highest

    def run_validation(self, value: object) -> int:
        if isinstance(value, bool):
            raise ValidationError(f"expected a whole number from {self.lowest} to {self.highest}, not true/false")
        number = super().run_validation(value)
        if not self.lowest <= number <= self.highest:
            raise ValidationError(f"{number} is out of range; use a whole number from {self.lowest} to {self.highest}")
        return number


class TrustCenterConfig(Config):
    # The content folder: YAML files, nda.md, keys/, documents.
    trust_dir = _Folder(DEFAULT_TRUST_DIR)
    # Read subprocessor removals and edits from git history (off: the YAML alone).
    git_history = config_options.Type(bool, default=True)
    # At most this many commits that touched subprocessors.yaml are read, newest first.
    git_history_commits = _Count(MAX_COMMITS, 1, 10_000)
    # Entries in feed.xml, newest first.
    feed_entries = _Count(100, 1, 1000)
    # Raw HTML and scripts in the hand-written pages: refused by `check` unless this says they are wanted
    # (a hand-written script runs in the site's origin, and in the gate's if both share one).
    allow_raw_html = config_options.Type(bool, default=False)
