"""Tests and tools install from locks that pin every package, and the locks keep the ranges they come from.

requirements.txt keeps the ranges the deployed app needs (Azure resolves them at deployment);
requirements-dev.txt adds the tools' ranges. `make lock` resolves both into requirements-dev.lock,
and tests/infra/requirements-scan.txt into tests/infra/requirements-scan.lock; `make install`
installs only the locks. A range edited without `make lock` fails here, naming the package.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.bicep_tree import REPO_ROOT

DEV_LOCK = REPO_ROOT / "requirements-dev.lock"
SCAN_LOCK = REPO_ROOT / "tests" / "infra" / "requirements-scan.lock"
# Each lock and the requirement files it is resolved from (a file's `-r` includes are followed).
LOCKS = {
    DEV_LOCK: [REPO_ROOT / "requirements-dev.txt"],
    SCAN_LOCK: [REPO_ROOT / "tests" / "infra" / "requirements-scan.txt"],
}


def _requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a pip requirements file, without comments, `via` annotations or options."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            lines.append(line)
    return lines


def requirements(path: Path) -> list[tuple[Requirement, Path]]:
    """The file's requirements, with those of every file it includes with `-r`, each with the file it is in."""
    found = []
    for raw in path.read_text().splitlines():
        if raw.startswith("-r "):
            found += requirements(path.parent / raw.removeprefix("-r ").strip())
    return found + [(Requirement(line), path) for line in _requirement_lines(path)]


def pins(lock: Path) -> dict[str, str]:
    """Package (canonical name) -> the one version the lock installs; refuses anything but `name==version`."""
    pinned: dict[str, str] = {}
    for line in _requirement_lines(lock):
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{lock.name}: {line} is not a pin"
        name = canonicalize_name(requirement.name)
        assert name not in pinned, f"{lock.name} pins {name} twice"
        pinned[name] = specifiers[0].version
    return pinned


def unmet(sources: list[Path], pinned: dict[str, str]) -> list[str]:
    """Each requirement of the sources that the pins leave out or hold at a version outside its range."""
    problems = []
    for source in sources:
        for requirement, origin in requirements(source):
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            version = pinned.get(canonicalize_name(requirement.name))
            if version is None:
                problems.append(f"{requirement} ({origin.name}) is not in the lock")
            elif not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{requirement} ({origin.name}) but the lock pins {version}")
    return problems


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_the_lock_pins_every_package_once(lock: Path):
    assert len(pins(lock)) > len(requirements(LOCKS[lock][0]))


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_the_lock_satisfies_every_range_it_comes_from(lock: Path):
    assert unmet(LOCKS[lock], pins(lock)) == [], "edit the range or run `make lock`"


def test_the_dev_lock_satisfies_the_deployed_apps_ranges():
    """The tests run the deployed app's libraries at versions Azure may also install."""
    deployed = requirements(REPO_ROOT / "requirements.txt")
    assert deployed and all(requirement.specifier for requirement, _ in deployed), "the app's requirements are ranges"
    assert unmet([REPO_ROOT / "requirements.txt"], pins(DEV_LOCK)) == []


def test_a_range_the_lock_misses_is_named(tmp_path: Path):
    source = tmp_path / "requirements-dev.txt"
    (tmp_path / "requirements.txt").write_text("httpx>=0.28,<0.29\n")
    source.write_text("-r requirements.txt\npytest>=9 # tests\npython-docx>=1.1\n")
    assert unmet([source], {"httpx": "0.27.2", "pytest": "9.2.0"}) == [
        "httpx<0.29,>=0.28 (requirements.txt) but the lock pins 0.27.2",
        "python-docx>=1.1 (requirements-dev.txt) is not in the lock",
    ]


def test_this_environment_is_the_dev_lock():
    """`make install` installed the lock: every pinned package is here at its pinned version."""
    locked = pins(DEV_LOCK)
    installed: dict[str, str | None] = {}
    for name in locked:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed[name] = None
    differing = {name: (installed[name], pinned) for name, pinned in locked.items() if installed[name] != pinned}
    assert differing == {}, "installed, locked: run `make install`"
