"""Run Meltano on a copy of this repository's meltano.yml, so .meltano/ never lands in the repo.

The copy lives under the gitignored plugin cache (``.venvs/``) in a folder keyed by the Meltano
pin and the two local packages' ``pyproject.toml``, with symlinks to ``tap-asana/`` and
``target-duckdb/``. Meltano installs the local plugins there once with uv (its default venv
backend) and reuses them while the key is unchanged. The installs are editable, so they pick up
code changes without a reinstall. Each run gets its own system database, so no state leaks
between tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.ecosystem.plugin_venvs import CACHE_DIR, PLUGIN_REQUIREMENTS, REPO_ROOT, PluginVenv

LOCAL_PLUGIN_FOLDERS = ("tap-asana", "target-duckdb")
TIMEOUT_SECONDS = 600
OUTPUT_TAIL_CHARS = 6000

# Variables of the caller's shell that would change what the plugins under test do.
ISOLATED_ENV_PREFIXES = ("MELTANO_", "TAP_ASANA_", "TARGET_DUCKDB_")


def project_key(extra_loaders: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(extra_loaders, sort_keys=True).encode())
    digest.update("\n".join(PLUGIN_REQUIREMENTS["meltano"]).encode())
    for folder in LOCAL_PLUGIN_FOLDERS:
        digest.update((REPO_ROOT / folder / "pyproject.toml").read_bytes())
    return digest.hexdigest()[:12]


class MeltanoError(AssertionError):
    """Raised when a Meltano command exits non-zero; carries the end of its output."""


@dataclass(frozen=True)
class MeltanoProject:
    """A copy of the repository's Meltano project and the Meltano install that runs it."""

    root: Path
    meltano: PluginVenv

    @classmethod
    def prepare(
        cls,
        meltano: PluginVenv,
        extra_loaders: list[dict[str, Any]] | None = None,
        cache_dir: Path = CACHE_DIR,
    ) -> MeltanoProject:
        """Copy meltano.yml into the cached project folder, adding ``extra_loaders`` to it."""
        extra_loaders = extra_loaders or []
        root = cache_dir / f"meltano-project-{project_key(extra_loaders)}"
        root.mkdir(parents=True, exist_ok=True)
        # The copy of meltano.yml is refreshed on every session so tests see the current file.
        project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
        project["plugins"]["loaders"].extend(extra_loaders)
        (root / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
        for folder in LOCAL_PLUGIN_FOLDERS:
            link = root / folder
            if not link.is_symlink():
                link.symlink_to(REPO_ROOT / folder, target_is_directory=True)
        return cls(root, meltano)

    def run(
        self,
        *args: str,
        workdir: Path,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``meltano ARGS`` in this project with a system database under ``workdir``."""
        run_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(ISOLATED_ENV_PREFIXES)
        }
        run_env.update(
            {
                "MELTANO_PROJECT_ROOT": str(self.root),
                "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
                # No usage statistics: the only network the tests use is the local server.
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "MELTANO_DISABLE_TRACKING": "true",
                "NO_COLOR": "1",
            }
        )
        run_env.update(env or {})
        command = [str(self.meltano.executable("meltano")), *args]
        result = subprocess.run(  # noqa: S603
            command,
            cwd=self.root,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        if check and result.returncode != 0:
            output = (result.stdout + "\n" + result.stderr)[-OUTPUT_TAIL_CHARS:]
            command_line = " ".join(args)
            raise MeltanoError(f"meltano {command_line} exited with {result.returncode}:\n{output}")
        return result
