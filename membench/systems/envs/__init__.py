"""The environments of systems that cannot share membench's: made from pinned requirements, checked.

Each ``NAME.txt`` beside this file pins one system's environment (``pip install -r`` format). A line
``# membench-first: SPEC`` is installed alone, before the rest: torch's CPU build, which pip would
otherwise replace with a multi-gigabyte CUDA one. ``membench systems install NAME`` makes the venv at
``$MEMBENCH_ENVS/NAME`` (default ``~/.local/share/membench/envs/NAME``) and, last, writes
``membench-env.json`` there: the requirements' hash and every installed version. Only an environment
with that file, made from the requirements as they are now, is used: one whose install died midway,
or whose requirements changed since, is reported and never run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from membench.core.errors import ConfigError, RunFailure

ENVS_VAR = "MEMBENCH_ENVS"
MANIFEST = "membench-env.json"
FIRST_PREFIX = "# membench-first:"

EnvState = Literal["installed", "missing", "incomplete", "outdated"]


def envs_root() -> Path:
    root = os.environ.get(ENVS_VAR)
    if root:
        return Path(root).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "membench" / "envs"


def env_names() -> list[str]:
    """The environments membench ships requirements for."""
    return sorted(p.stem for p in Path(__file__).parent.glob("*.txt"))


def requirements_file(name: str) -> Path:
    path = Path(__file__).with_name(f"{name}.txt")
    if not path.is_file():
        raise ConfigError(f"membench has no environment '{name}'; known: {', '.join(env_names()) or 'none'}")
    return path


def requirements_hash(name: str) -> str:
    return hashlib.sha256(requirements_file(name).read_bytes()).hexdigest()


def env_dir(name: str) -> Path:
    return envs_root() / name


@dataclass(frozen=True)
class EnvStatus:
    name: str
    path: Path
    state: EnvState

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def problem(self) -> str | None:
        """What is wrong, as a user reads it with the command that fixes it; None when installed."""
        fix = f"membench systems install {self.name}"
        return {
            "installed": None,
            "missing": f"its environment is not installed: {fix}",
            "incomplete": f"its environment at {self.path} was not finished: {fix}",
            "outdated": f"its environment predates the current requirements: {fix}",
        }[self.state]


def env_status(name: str) -> EnvStatus:
    path = env_dir(name)
    manifest = read_manifest(name)
    if manifest is None:
        state: EnvState = "incomplete" if path.exists() else "missing"
    elif manifest.get("requirements_sha256") != requirements_hash(name):
        state = "outdated"
    elif not (path / "bin" / "python").exists():
        state = "incomplete"
    else:
        state = "installed"
    return EnvStatus(name, path, state)


def read_manifest(name: str) -> dict[str, object] | None:
    try:
        data = json.loads((env_dir(name) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def installed_packages(name: str) -> dict[str, str]:
    """Every package of the installed environment and its version (from its manifest)."""
    manifest = read_manifest(name) or {}
    packages = manifest.get("packages")
    return {str(k): str(v) for k, v in packages.items()} if isinstance(packages, dict) else {}


def pinned_packages(name: str) -> dict[str, str]:
    """The packages the requirements name, with the versions installed: what decides a system's
    results, for its run identity (the full list is in the manifest)."""
    installed = {_canonical(k): v for k, v in installed_packages(name).items()}
    names = [_canonical(_requirement_name(line)) for line in _requirement_lines(name)]
    return {n: installed[n] for n in names if n in installed}


def install(name: str, *, report: Callable[[str], None], force: bool = False) -> EnvStatus:
    """Make (or remake) environment ``name``; ``report`` gets one line per step. pip's own output goes
    to ``<envs>/NAME.install.log``, whose last lines a failure quotes."""
    requirements = requirements_file(name)
    status = env_status(name)
    if status.state == "installed" and not force:
        report(f"{name}: already installed at {status.path} (--force to remake it)")
        return status
    root = envs_root()
    root.mkdir(parents=True, exist_ok=True)
    previous = root / f".{name}.previous"
    shutil.rmtree(previous, ignore_errors=True)
    if status.state == "installed":
        # --force: the working environment waits aside (a venv only works at its own path, so it is
        # moved back, not copied) and returns if the new one cannot be made.
        status.path.rename(previous)
    elif status.path.exists():
        report(f"{name}: removing the {status.state} environment at {status.path}")
        shutil.rmtree(status.path)
    try:
        _build(name, requirements, status.path, root / f"{name}.install.log", report)
    except BaseException:
        if previous.exists():
            shutil.rmtree(status.path, ignore_errors=True)
            previous.rename(status.path)
            report(f"{name}: kept the environment that was installed before")
        raise
    shutil.rmtree(previous, ignore_errors=True)
    return env_status(name)


def _build(name: str, requirements: Path, path: Path, log: Path, report: Callable[[str], None]) -> None:
    """Create the venv at ``path`` and install ``requirements`` into it, the manifest last."""
    status = EnvStatus(name, path, "missing")
    first = [
        line[len(FIRST_PREFIX) :].strip() for line in _lines(requirements) if line.startswith(FIRST_PREFIX)
    ]
    python = status.path / "bin" / "python"
    steps: list[tuple[str, list[str]]] = [
        ("creating the venv", [sys.executable, "-m", "venv", str(status.path)])
    ]
    steps += [(f"installing {spec} first", [str(python), "-m", "pip", "install", spec]) for spec in first]
    steps.append(
        (f"installing {requirements.name}", [str(python), "-m", "pip", "install", "-r", str(requirements)])
    )
    with log.open("w") as out:
        for number, (what, command) in enumerate(steps, 1):
            report(f"{name}: [{number}/{len(steps)}] {what}")
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                raise RunFailure(
                    f"installing environment '{name}' failed at '{what}' (exit {done.returncode}); "
                    f"the last lines of {log}:\n{_tail(log, 15)}"
                )
    listed = _output(name, [str(python), "-m", "pip", "list", "--format=json"])
    manifest = {
        "name": name,
        "requirements_sha256": requirements_hash(name),
        "python": _output(name, [str(python), "-c", "import platform; print(platform.python_version())"]),
        "packages": {p["name"]: p["version"] for p in json.loads(listed)},
        "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = status.path / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(status.path / MANIFEST)  # written last: its presence means the environment is whole
    report(f"{name}: installed at {status.path} ({len(manifest['packages'])} packages; log {log})")


def _output(name: str, command: list[str]) -> str:
    """What ``command`` prints, run in the new environment; a failure is one line naming it."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RunFailure(
            f"environment '{name}' was installed but '{' '.join(command[-2:])}' failed there "
            f"(exit {done.returncode}): {done.stderr.strip()[-500:]}"
        )
    return done.stdout.strip()


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _requirement_lines(name: str) -> list[str]:
    lines = _lines(requirements_file(name))
    first = [line[len(FIRST_PREFIX) :].strip() for line in lines if line.startswith(FIRST_PREFIX)]
    return first + [line for line in lines if not line.startswith("#")]


def _requirement_name(spec: str) -> str:
    for separator in ("[", "=", "<", ">", "!", "~", ";", " "):
        spec = spec.split(separator, 1)[0]
    return spec


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _tail(path: Path, lines: int) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
