"""Package layout only (metadata is in pyproject.toml): the folders tasks/ and data_builders/ keep the
repository's layout but install under names that belong to membench, so they never collide with
another project's top-level ``tasks`` package in the same environment."""

from setuptools import find_packages, setup

#: installed package name -> folder in the repository.
ROOTS = {"membench": "membench", "membench_tasks": "tasks", "membench_builders": "data_builders"}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found.extend(f"{name}.{sub}" for sub in find_packages(folder))
    return found


setup(packages=packages(), package_dir={name: folder for name, folder in ROOTS.items() if name != folder})
