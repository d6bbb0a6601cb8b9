"""How the project installs: pyproject.toml, the lock, environment.yml and the install script
describe one environment, take PyTorch's CPU build, and resolve without conflict."""

import json
import os
import re
import socket
import subprocess
import sys

import pytest
import tomllib
import yaml
from conftest import IN_CI, ROOT
from packaging.requirements import Requirement
from packaging.version import Version

CONDA_ONLY = {"python", "pip"}
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
LOCK = ROOT / "requirements" / "constraints.txt"
TORCH_PIN = ROOT / "requirements" / "torch.txt"


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    spec = spec.strip().replace(" ", "")
    # conda writes an exact pin as `=x`, pip as `==x`
    spec = re.sub(r"^=(?!=)", "==", spec)
    return _name(name), spec


def _pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return requirements


def _environment_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    entries: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            entries += [d for d in dep["pip"] if not d.startswith("-")]
        else:
            entries.append(dep)
    pairs = dict(_normalise(e) for e in entries)
    return {name: spec for name, spec in pairs.items() if name not in CONDA_ONLY}


def _torch_pin() -> Version:
    (line,) = [ln for ln in TORCH_PIN.read_text().splitlines() if ln and not ln.startswith("#")]
    requirement = Requirement(line)
    assert requirement.name == "torch" and str(requirement.specifier).startswith("==")
    return Version(str(requirement.specifier)[2:])


def _lock() -> dict[str, Version]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            requirement = Requirement(line)
            pins[_name(requirement.name)] = Version(str(requirement.specifier)[2:])
    return pins


def test_dependency_lists_agree():
    """environment.yml (conda) lists what pyproject.toml lists; only torch differs: conda users get
    the tested version (requirements/torch.txt), which pyproject's range admits."""
    pyproject = dict(_normalise(r) for r in _pyproject_requirements())
    environment = _environment()
    assert set(environment) == set(pyproject), (
        f"only in environment.yml: {sorted(set(environment) - set(pyproject))}; "
        f"only in pyproject.toml: {sorted(set(pyproject) - set(environment))}"
    )
    assert environment.pop("torch") == f"=={_torch_pin()}"
    pyproject.pop("torch")
    assert environment == pyproject


def test_torch_is_a_range_that_admits_the_tested_version():
    (torch,) = [Requirement(r) for r in _pyproject_requirements() if _name(Requirement(r).name) == "torch"]
    assert not str(torch.specifier).startswith("=="), "torch must be a range, not a pin"
    assert _torch_pin() in torch.specifier
    assert dict(_normalise(r) for r in _pyproject_requirements())["jupyter-book"] == "==1.0.4.post1"


def test_the_lock_pins_every_requirement_within_its_range_and_holds_no_cuda():
    lock = _lock()
    for text in _pyproject_requirements():
        requirement = Requirement(text)
        name = _name(requirement.name)
        if name == "torch":
            assert name not in lock, "torch is installed from requirements/torch.txt, not the lock"
            continue
        assert name in lock, f"{name} is not in the lock: run bash scripts/lock.sh"
        assert lock[name] in requirement.specifier, f"lock pins {name}=={lock[name]} outside {requirement}"
    cuda = sorted(n for n in lock if n.startswith(("nvidia-", "cuda-", "triton")))
    assert not cuda, f"the lock pulls a CUDA build's packages: {cuda}"


def test_the_lowest_versions_file_names_the_floors_of_pyproject(root):
    """requirements/lowest.txt (what the weekly lowest-versions job installs) pins each core
    dependency at the lower bound pyproject.toml gives it (torch aside: requirements/torch.txt)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    floors = {}
    for text in project["dependencies"]:
        requirement = Requirement(text)
        if _name(requirement.name) != "torch":
            (bound,) = [s for s in requirement.specifier if s.operator == ">="]
            floors[_name(requirement.name)] = Version(bound.version)
    lines = (root / "requirements" / "lowest.txt").read_text().splitlines()
    pins = {
        _name(Requirement(ln).name): Version(str(Requirement(ln).specifier)[2:])
        for ln in lines
        if ln and not ln.startswith("#")
    }
    assert pins == floors


def test_every_install_path_takes_the_cpu_build_of_torch(root):
    """The install script installs torch alone, first, from the CPU index (only torch is looked up
    there); environment.yml lists that index before the pin, so conda users get it too."""
    install = (root / "scripts" / "_install.sh").read_text()
    assert f'TORCH_INDEX="{CPU_INDEX}"' in install
    torch_step = install.index('--no-deps --extra-index-url "$TORCH_INDEX"')
    assert torch_step < install.index('-e ".[${extras}]"')
    assert "torch_requirement=(-r requirements/torch.txt)" in install
    pip = _environment_pip()
    assert pip.index(f"--extra-index-url {CPU_INDEX}") < pip.index(f"torch=={_torch_pin()}")
    assert CPU_INDEX in (root / "README.md").read_text()
    assert "-e ." in pip


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_book_and_lab_extras_resolve_together_with_the_lock(tmp_path, root):
    """pip's resolver, dry run, from scratch: the book, lab and every other extra install together
    under the lock (a conflict like cffconvert's jsonschema<4 against JupyterLab cannot return)."""
    if not _pypi_reachable():
        if IN_CI:
            pytest.fail("PyPI cannot be reached: the resolution check needs the package index")
        pytest.skip("PyPI cannot be reached")
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    command += ["--report", str(tmp_path / "report.json"), "-c", str(LOCK), "-c", str(TORCH_PIN)]
    command += [f"{root}[book,lab,test,hf,dask]"]
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    names = {_name(item["metadata"]["name"]) for item in report["install"]}
    assert {"jupyterlab", "jupyter-book", "jupytext", "torch"} <= names
