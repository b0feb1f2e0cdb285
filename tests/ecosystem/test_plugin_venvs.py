"""The plugin virtualenv cache: failed installs are errors that show pip's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ecosystem.plugin_venvs import PluginInstallError, ensure_plugin_venv, requirements_hash

pytestmark = pytest.mark.ecosystem


def test_failed_install_raises_with_pip_output(tmp_path: Path) -> None:
    # A local path that does not exist fails inside pip without asking any package index.
    missing = str(tmp_path / "missing-plugin-0.1.0-py3-none-any.whl")

    with pytest.raises(PluginInstallError) as raised:
        ensure_plugin_venv("broken", cache_dir=tmp_path / "venvs", requirements=(missing,))

    message = str(raised.value)
    assert "failed with exit code" in message
    assert "missing-plugin-0.1.0-py3-none-any.whl" in message.split("last lines of its output:")[1]


def test_failed_install_is_not_reused(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing-plugin-0.1.0-py3-none-any.whl")
    venv_dir = tmp_path / "venvs" / f"broken-{requirements_hash((missing,))}"

    for _ in range(2):
        with pytest.raises(PluginInstallError):
            ensure_plugin_venv("broken", cache_dir=tmp_path / "venvs", requirements=(missing,))

    assert venv_dir.is_dir()
    assert not (venv_dir / ".complete").exists()


def test_venv_key_changes_with_pins() -> None:
    assert requirements_hash(("a==1",)) != requirements_hash(("a==2",))
    assert requirements_hash(("a==1", "b==1")) == requirements_hash(("b==1", "a==1"))
