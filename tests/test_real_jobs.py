"""The two jobs users run copilot-batch for, end to end through the real CLI, offline:
nightly documentation (a patch per module) and a review fanned out over repositories."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from example_jobs import CHECKOUT_REPOS, copy_example_jobs

from copilot_batch import RunOptions, TaskStatus, load_jobs, run_batch

pytestmark = [pytest.mark.anyio, pytest.mark.cli]

REPOSITORY = Path(__file__).resolve().parents[1]
JOBS = REPOSITORY / "jobs"
DEFINITIONS = (ast.FunctionDef, ast.ClassDef)


async def test_nightly_docs_writes_a_patch_per_module_that_applies(tmp_path: Path) -> None:
    def sources() -> dict[Path, str]:
        return {path: path.read_text() for path in (JOBS / "sample_package").rglob("*.py")}

    before = sources()
    result = await run_batch(
        load_jobs([JOBS / "nightly-docs.yaml"]),
        RunOptions(out_dir=tmp_path / "runs", replay=(JOBS / "scripts",)),
    )
    modules = sorted(p.stem for p in (JOBS / "sample_package" / "inventory").glob("[!_]*.py"))
    assert sorted(task.task.id for task in result.results) == [f"docs-{m}" for m in modules]
    # The source package is untouched; each patch applies to a copy of it and compiles.
    copy = tmp_path / "sample_package"
    shutil.copytree(JOBS / "sample_package", copy)
    for task in result.results:
        assert task.status is TaskStatus.OK, (task.task.id, task.error)
        module = task.task.id.removeprefix("docs-")
        assert task.changed_files == [f"inventory/{module}.py"]
        patch = result.folder / str(task.patch)
        subprocess.run(["git", "apply", str(patch)], cwd=copy, check=True)
        tree = ast.parse((copy / "inventory" / f"{module}.py").read_text())
        documented = [tree, *(node for node in ast.walk(tree) if isinstance(node, DEFINITIONS))]
        assert all(ast.get_docstring(node) for node in documented), module
    assert sources() == before
    summary = (result.folder / "summary.md").read_text()
    for module in modules:
        patch_row = (
            f"| `docs-{module}` | `inventory/{module}.py` | `tasks/docs-{module}/changes.patch` |"
        )
        assert patch_row in summary


async def test_review_repos_finds_the_planted_problems(tmp_path: Path) -> None:
    made_by_demo = CHECKOUT_REPOS.exists()
    jobs = copy_example_jobs(tmp_path)
    result = await run_batch(
        load_jobs([jobs / "review-repos.yaml"]),
        RunOptions(out_dir=tmp_path / "runs", replay=(jobs / "scripts",)),
    )
    schema = json.loads(
        (REPOSITORY / "skills" / "code-review" / "findings.schema.json").read_text()
    )
    outputs = {}
    for task in result.results:
        assert task.status is TaskStatus.OK, (task.task.id, task.error)
        jsonschema.validate(task.output, schema)
        outputs[task.task.id] = task.output
        record = json.loads((result.folder / "tasks" / task.task.id / "result.json").read_text())
        assert record["workspace"]["mode"] == "git-worktree"
    assert set(outputs) == {"review-billing", "review-search", "review-notify"}
    critical = {
        (task_id, finding["file"], finding["line"])
        for task_id, output in outputs.items()
        for finding in output["findings"]
        if finding["severity"] == "critical"
    }
    assert critical == {("review-search", "query.py", 5), ("review-notify", "mailer.py", 3)}
    summary = (result.folder / "summary.md").read_text()
    assert "| critical | `query.py` | 5 |" in summary
    results = (result.folder / "results.jsonl").read_text().splitlines()
    assert {json.loads(line)["id"] for line in results} == set(outputs)
    # The repositories were made in tmp_path; the checkout is as it was.
    assert record["workspace"]["patch_root"].startswith(str(jobs))
    assert CHECKOUT_REPOS.exists() == made_by_demo
