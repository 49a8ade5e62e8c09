"""``membench systems install``'s machinery on a toy requirements file: a real venv is made, its
manifest written last, and a failed step leaves nothing that would be used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, RunFailure
from membench.systems import envs


@pytest.fixture
def envs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(envs.ENVS_VAR, str(tmp_path / "envs"))
    requirements = tmp_path / "req" / "toy.txt"
    requirements.parent.mkdir()
    requirements.write_text("# membench-first: pip\n# nothing else: pip is in every venv\n")
    monkeypatch.setattr(envs, "requirements_file", lambda name: requirements)
    return tmp_path / "envs"


def test_install_makes_a_venv_and_writes_its_manifest_last(envs_root: Path) -> None:
    lines: list[str] = []
    status = envs.install("toy", report=lines.append)
    assert status.state == "installed" and status.python.exists()
    manifest = json.loads((status.path / envs.MANIFEST).read_text())
    assert manifest["requirements_sha256"] == envs.requirements_hash("toy") and "pip" in manifest["packages"]
    assert any("[1/3] creating the venv" in line for line in lines)
    assert envs.install("toy", report=lines.append).state == "installed"
    assert "already installed" in lines[-1]


def test_a_failed_install_names_the_step_and_quotes_pip_and_leaves_no_usable_environment(
    envs_root: Path, tmp_path: Path
) -> None:
    envs.requirements_file("toy").write_text(f"{tmp_path / 'no-such-package.whl'}\n")
    with pytest.raises(RunFailure, match=r"failed at 'installing toy.txt'") as caught:
        envs.install("toy", report=lambda line: None)
    assert "no-such-package.whl" in str(caught.value)
    assert envs.env_status("toy").state == "incomplete"


def test_a_failed_reinstall_keeps_the_environment_that_worked(
    envs_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = envs.install("toy", report=lambda line: None)
    marker = installed.path / "kept"
    marker.touch()

    def failing_build(name: str, requirements: Path, path: Path, log: Path, report: object) -> None:
        path.mkdir()  # a half-made environment where the working one was
        raise ConfigError("pip failed")

    monkeypatch.setattr(envs, "_build", failing_build)
    with pytest.raises(ConfigError, match="pip failed"):
        envs.install("toy", report=lambda line: None, force=True)
    assert marker.exists() and envs.env_status("toy").state == "installed"
    assert not (envs_root / ".toy.previous").exists()
