"""pyproject.toml and environment.yml describe the same environment."""

import re

import tomllib
import yaml
from conftest import ROOT

CONDA_ONLY = {"python", "pip"}


def _normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    name = re.sub(r"[-_.]+", "-", name).lower()
    spec = spec.strip().replace(" ", "")
    # conda writes an exact pin as `=x`, pip as `==x`
    spec = re.sub(r"^=(?!=)", "==", spec)
    return name, spec


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return dict(_normalise(r) for r in requirements)


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


def test_dependency_lists_agree():
    pyproject, environment = _pyproject(), _environment()
    assert set(environment) == set(pyproject), (
        f"only in environment.yml: {sorted(set(environment) - set(pyproject))}; "
        f"only in pyproject.toml: {sorted(set(pyproject) - set(environment))}"
    )
    assert environment == pyproject


def test_pins_the_design_card_requires():
    pyproject = _pyproject()
    assert pyproject["jupyter-book"] == "==1.0.4.post1"
    assert pyproject["torch"] == "==2.13.0"


def test_both_install_paths_take_the_cpu_build_of_torch():
    """The README installs torch==2.13.0 first (the machines' CPU wheel; elsewhere with PyTorch's
    CPU index); environment.yml lists that index before the pin, so conda users get it too."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    index = pip.index("--extra-index-url https://download.pytorch.org/whl/cpu")
    assert index < pip.index("torch==2.13.0")
    assert "download.pytorch.org/whl/cpu" in (ROOT / "README.md").read_text()
    install = (ROOT / "scripts" / "_install.sh").read_text()
    assert install.index('"torch==2.13.0"') < install.index('-e ".[${extras}]"')


def test_environment_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e ." in pip
