"""deploy/kubernetes/: the manifests pass Kubernetes' schema (kubernetes-validate, offline),
the Containerfile passes hadolint, and the Jobs' scripts run as a pod runs them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from copilot_batch.cli import main

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
BIN = Path(sys.executable).parent


def test_the_manifests_are_the_shards_the_merge_and_the_volume() -> None:
    assert [path.name for path in MANIFESTS] == [
        "merge-job.yaml",
        "runs-pvc.yaml",
        "shards-job.yaml",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["kubernetes-validate", "--strict", "--quiet", *map(str, MANIFESTS)],
        ["hadolint", str(DEPLOY / "Containerfile")],
    ],
    ids=["kubernetes-validate", "hadolint"],
)
def test_the_files_pass_the_linter(command: list[str]) -> None:
    linted = subprocess.run(
        [str(BIN / command[0]), *command[1:]], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def container(name: str) -> dict[str, Any]:
    job = yaml.safe_load((DEPLOY / name).read_text())
    containers: list[dict[str, Any]] = job["spec"]["template"]["spec"]["containers"]
    return containers[0]


def environment(name: str) -> dict[str, str]:
    return {pair["name"]: pair["value"] for pair in container(name)["env"]}


def test_the_shard_count_is_the_jobs_completions_and_the_merges() -> None:
    spec = yaml.safe_load((DEPLOY / "shards-job.yaml").read_text())["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"]
    for name in ("shards-job.yaml", "merge-job.yaml"):
        assert environment(name)["COPILOT_BATCH_SHARDS"] == str(spec["completions"])
    assert environment("shards-job.yaml")["RUN_ID"] == environment("merge-job.yaml")["RUN_ID"]


def test_the_secrets_come_from_a_secret_only() -> None:
    shard = container("shards-job.yaml")
    assert shard["envFrom"] == [{"secretRef": {"name": "copilot-batch-secrets"}}]
    assert not any("TOKEN" in name or "KEY" in name for name in environment("shards-job.yaml"))


@pytest.mark.parametrize(
    ("name", "subcommand"), [("shards-job.yaml", "run"), ("merge-job.yaml", "merge")]
)
def test_the_jobs_use_options_copilot_batch_has(name: str, subcommand: str) -> None:
    words = shlex.split(container(name)["args"][0].split("copilot-batch ", 1)[1])
    assert words[0] == subcommand
    command = main.commands[subcommand]
    known = {option for parameter in command.params for option in parameter.opts}
    used = {word for word in words if word.startswith("--")}
    assert used <= known, used - known
    context = command.make_context(subcommand, words[1:], resilient_parsing=True)
    assert isinstance(context, click.Context)


def run_script(
    name: str, folder: Path, exit_code: int, **env: str
) -> subprocess.CompletedProcess[str]:
    """The container's script under /bin/sh -c, with a stand-in copilot-batch that logs its
    arguments to ``folder/calls`` and exits ``exit_code``; /runs is ``folder/runs``."""
    stand_in = folder / "bin" / "copilot-batch"
    stand_in.parent.mkdir(exist_ok=True)
    stand_in.write_text(f'#!/bin/sh\necho "$@" >> {folder}/calls\nexit {exit_code}\n')
    stand_in.chmod(0o755)
    script = container(name)["args"][0].replace("/runs", str(folder / "runs"))
    environ = {**os.environ, **environment(name), **env}
    environ["PATH"] = f"{stand_in.parent}{os.pathsep}{environ['PATH']}"
    return subprocess.run(
        [*container(name)["command"], script],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("exit_code", "pod_succeeds"), [(0, True), (1, True), (2, False)])
def test_a_shard_whose_tasks_failed_still_completes(
    tmp_path: Path, exit_code: int, pod_succeeds: bool
) -> None:
    ran = run_script("shards-job.yaml", tmp_path, exit_code, JOB_COMPLETION_INDEX="2")
    assert (ran.returncode == 0) is pod_succeeds, ran.stderr
    runs = tmp_path / "runs" / "review-1"
    assert (tmp_path / "calls").read_text().split() == [
        "run", "jobs/*.yaml", "--shard", "auto", "--out", str(runs),
        "--run-id", "shard-2", "--quiet",
    ]  # fmt: skip


@pytest.mark.parametrize("shards", [3, 4])
def test_the_merge_waits_for_every_shard(tmp_path: Path, shards: int) -> None:
    runs = tmp_path / "runs" / "review-1"
    for index in range(shards):
        (runs / f"shard-{index}").mkdir(parents=True)
    ran = run_script("merge-job.yaml", tmp_path, 0)
    if shards < 4:
        assert ran.returncode == 2
        assert f"holds {shards} of 4 shards" in ran.stderr
        assert not (tmp_path / "calls").exists()
        return
    assert ran.returncode == 0, ran.stderr
    folders = [str(runs / f"shard-{index}") for index in range(4)]
    assert (tmp_path / "calls").read_text().split() == [
        "merge", *folders, "--out", str(tmp_path / "runs" / "merged"), "--run-id", "review-1"
    ]  # fmt: skip
