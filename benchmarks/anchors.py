"""Install the anchors (the tools users would pick instead) from PyPI, one virtualenv each.

Each anchor gets its own virtual environment under ``benchmarks/.venvs/`` (ignored by git), so
its pinned dependencies never meet ours. ``ensure`` creates and installs it on first use and
reuses it afterwards while the installed version matches the pin.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENVS_DIR = Path(__file__).resolve().parent / ".venvs"

ANCHORS = {
    "target-duckdb": "0.8.0",
    "tap-asana": "2.5.1",
    "ingestr": "0.14.155",
}


def venv_dir(name: str) -> Path:
    return VENVS_DIR / name


def python(name: str) -> Path:
    """Return the interpreter of the anchor's virtual environment."""
    return venv_dir(name) / "bin" / "python"


def installed_version(name: str) -> str | None:
    interpreter = python(name)
    if not interpreter.exists():
        return None
    result = subprocess.run(
        [str(interpreter), "-c",
         f"from importlib.metadata import version; print(version({name!r}))"],
        capture_output=True, text=True, check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def installed_versions() -> dict[str, str | None]:
    return {name: installed_version(name) for name in ANCHORS}


def ensure(name: str, log=print) -> Path:
    """Create the anchor's virtual environment and install its pinned version if needed.

    Returns the environment's ``bin`` folder. Raises ``RuntimeError`` with pip's output when the
    install fails, because a benchmark without its anchor has nothing to compare against.
    """
    pinned = ANCHORS[name]
    if installed_version(name) == pinned:
        return venv_dir(name) / "bin"
    log(f"installing {name}=={pinned} into {venv_dir(name)}")
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv_dir(name))], check=True)
    result = subprocess.run(
        [str(python(name)), "-m", "pip", "install", "--quiet", f"{name}=={pinned}"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or installed_version(name) != pinned:
        raise RuntimeError(
            f"installing {name}=={pinned} from PyPI failed; pip output:\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return venv_dir(name) / "bin"
