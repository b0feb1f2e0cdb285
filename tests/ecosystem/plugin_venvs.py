"""Build and cache one virtualenv per third-party plugin installed from PyPI.

Each virtualenv lives under ``.venvs/`` at the repository root (gitignored). Its folder is named
after the plugin and a hash of its pinned requirements and the Python version. A rerun with the
same pins reuses it, and a changed pin builds a new one. A folder is only used once the file
``.complete`` exists in it, so an install that was interrupted is rebuilt rather than trusted.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("OMNILOAD_PLUGIN_VENVS", REPO_ROOT / ".venvs"))

# Pinned top-level requirements of each third-party plugin, one virtualenv per entry.
PLUGIN_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "meltano": ("meltano==4.4.1",),
    "target-postgres": ("meltanolabs-target-postgres==0.8.1",),
    "target-csv": ("meltanolabs-target-csv==0.5.0",),
    "tap-jsonl": ("tap-jsonl==0.3.1",),
}

PIP_TAIL_LINES = 30


class PluginInstallError(RuntimeError):
    """Raised when pip fails to install a plugin; the message ends with pip's last lines."""


@dataclass(frozen=True)
class PluginVenv:
    """A built virtualenv and the console scripts it contains."""

    name: str
    path: Path

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    def executable(self, script: str) -> Path:
        """Return the path of a console script, raising when the install did not create it."""
        path = self.bin_dir / script
        if not path.exists():
            raise PluginInstallError(
                f"{self.name}: console script {script!r} not found in {self.bin_dir}"
            )
        return path


def requirements_hash(requirements: tuple[str, ...]) -> str:
    key = "\n".join([sys.version.split()[0], *sorted(requirements)])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def ensure_plugin_venv(
    name: str,
    cache_dir: Path = CACHE_DIR,
    requirements: tuple[str, ...] | None = None,
) -> PluginVenv:
    """Return the cached virtualenv of plugin ``name``, building it first when needed.

    ``requirements`` defaults to the plugin's pins in ``PLUGIN_REQUIREMENTS``.
    """
    if requirements is None:
        requirements = PLUGIN_REQUIREMENTS[name]
    target = cache_dir / f"{name}-{requirements_hash(requirements)}"
    cache_dir.mkdir(parents=True, exist_ok=True)

    # A lock per virtualenv, so two pytest processes never build the same one at once.
    with open(cache_dir / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _build(target, requirements)
    return PluginVenv(name, target)


def _build(target: Path, requirements: tuple[str, ...]) -> None:
    if target.exists():
        shutil.rmtree(target)
    # The virtualenv gets no pip of its own: the pip running these tests installs into it
    # through --python, which saves bootstrapping pip once per plugin.
    venv.EnvBuilder(with_pip=False, clear=True).create(target)
    command = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(target / "bin" / "python"),
        "install",
        "--disable-pip-version-check",
        "--no-input",
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()
        tail = "\n".join(output[-PIP_TAIL_LINES:])
        raise PluginInstallError(
            f"pip install {' '.join(requirements)} failed with exit code "
            f"{result.returncode}; last lines of its output:\n{tail}"
        )
    (target / ".complete").write_text("\n".join(requirements) + "\n")


if __name__ == "__main__":
    # Build every plugin virtualenv ahead of a test run: python -m tests.ecosystem.plugin_venvs
    for plugin_name in sys.argv[1:] or PLUGIN_REQUIREMENTS:
        print(ensure_plugin_venv(plugin_name).path)
