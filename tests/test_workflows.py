"""The example GitHub Actions workflows, checked by real workflow linters: GitHub's
workflow schema (check-jsonschema's bundled copy) and zizmor's audits, both offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def test_there_are_the_two_example_workflows() -> None:
    assert [path.name for path in WORKFLOWS] == ["nightly-docs.yml", "review-repos.yml"]


@pytest.mark.parametrize(
    "command",
    [
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows"],
        ["zizmor", "--offline", "--no-progress"],
    ],
    ids=["github-schema", "zizmor"],
)
def test_workflows_pass_the_linter(command: list[str]) -> None:
    linted = subprocess.run(
        [str(BIN / command[0]), *command[1:], *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


# The steps of the workflows run here as GitHub runs them: bash with -e and pipefail.
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]
REPOSITORY = Path(__file__).resolve().parents[1]


def steps_of(workflow: str, job: str) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((REPOSITORY / ".github" / "workflows" / workflow).read_text())
    return {step["name"]: step for step in document["jobs"][job]["steps"] if "name" in step}


def run_step(step: dict[str, Any], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """One step's ``run`` script in ``cwd``; ``$GITHUB_OUTPUT`` is ``cwd/github-output``."""
    environment = {**os.environ, "GITHUB_OUTPUT": str(cwd / "github-output"), **env}
    return subprocess.run(
        [*BASH, step["run"]], cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("exit_code", "step_passes"), [(0, True), (1, True), (2, False)])
def test_nightly_docs_goes_on_when_some_tasks_failed(
    tmp_path: Path, exit_code: int, step_passes: bool
) -> None:
    # Only the exit code matters to this step: a stand-in copilot-batch gives it.
    stand_in = tmp_path / ".venv" / "bin" / "copilot-batch"
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    stand_in.chmod(0o755)
    step = steps_of("nightly-docs.yml", "docs")["Run the docs job"]
    finished = run_step(step, tmp_path, RUN_ID="nightly-1")
    assert (finished.returncode == 0) is step_passes, finished.stderr
    assert (tmp_path / "github-output").read_text() == f"status={exit_code}\n"


@pytest.mark.parametrize("previous", ["", "41"])
def test_nightly_docs_fetches_the_last_nights_run_folder_when_there_is_one(
    tmp_path: Path, previous: str
) -> None:
    # A stand-in gh: lists the last completed workflow run, and "downloads" its artifact.
    stand_in = tmp_path / "bin" / "gh"
    stand_in.parent.mkdir()
    stand_in.write_text(
        "#!/bin/sh\n"
        f'[ "$2" = list ] && {{ echo "{previous}"; exit 0; }}\n'
        'mkdir -p "$7/nightly-$3" && echo "$*" > "$7/nightly-$3/args"\n'
    )
    stand_in.chmod(0o755)
    step = steps_of("nightly-docs.yml", "docs")["Fetch the last night's run folder"]
    path = f"{stand_in.parent}:{os.environ['PATH']}"
    finished = run_step(step, tmp_path, PATH=path, GH_TOKEN="t")
    assert finished.returncode == 0, finished.stderr
    fetched = sorted(path.name for path in (tmp_path / "cache").iterdir())
    assert fetched == ([f"nightly-{previous}"] if previous else [])
    run = steps_of("nightly-docs.yml", "docs")["Run the docs job"]["run"]
    assert "--incremental --cache-from cache" in run


@pytest.mark.cli
def test_nightly_docs_proposes_the_ok_patches_and_lists_the_failures(tmp_path: Path) -> None:
    # The job, its package and skills, copied: the patches are applied to the copy.
    shutil.copytree(REPOSITORY / "jobs" / "sample_package", tmp_path / "jobs" / "sample_package")
    shutil.copytree(REPOSITORY / "skills", tmp_path / "skills")
    shutil.copy(REPOSITORY / "jobs" / "nightly-docs.yaml", tmp_path / "jobs")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    # Replies for every module but orders.py: its task fails (the model answers 400).
    script = yaml.safe_load((REPOSITORY / "jobs" / "scripts" / "nightly-docs.yaml").read_text())
    script["conversations"] = [
        conversation
        for conversation in script["conversations"]
        if "orders.py" not in conversation["messages"][1]["content"]
    ]
    (tmp_path / "script.yaml").write_text(yaml.safe_dump(script))
    package = tmp_path / "jobs" / "sample_package" / "inventory"
    before = {path.name: path.read_text() for path in package.glob("*.py")}

    command = [str(tmp_path / ".venv" / "bin" / "copilot-batch"), "run", "jobs/nightly-docs.yaml"]
    command += ["--replay", "script.yaml", "--out", "runs", "--run-id", "nightly-1", "-q"]
    ran = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ran.returncode == 1, ran.stdout + ran.stderr

    steps = steps_of("nightly-docs.yml", "docs")
    for name in ("Apply the patches of the tasks that ended ok", "Write the pull request body"):
        finished = run_step(steps[name], tmp_path, RUN_ID="nightly-1")
        assert finished.returncode == 0, finished.stdout + finished.stderr
    assert (tmp_path / "github-output").read_text() == "status=0\n"
    after = {path.name: path.read_text() for path in package.glob("*.py")}
    assert after["orders.py"] == before["orders.py"]
    assert after["pricing.py"] != before["pricing.py"] and after["stock.py"] != before["stock.py"]
    body = (tmp_path / "runs" / "nightly-1" / "pull-request.md").read_text()
    assert "## 1 task(s) did not end ok; their modules are not changed here" in body
    assert "- `docs-orders`: failed: " in body
    assert "docs-pricing" not in body.split("# copilot-batch run")[0]


def test_review_repos_shows_its_merged_summary_once() -> None:
    # merge appends the summary to $GITHUB_STEP_SUMMARY itself (output/reports.py).
    merge = steps_of("review-repos.yml", "merge")["Merge the shards"]
    assert "copilot-batch merge" in merge["run"]
    assert "GITHUB_STEP_SUMMARY" not in merge["run"]
