"""What a copy workspace holds, with real git: what git would take, never a run folder,
less workspace_exclude; and how much was copied."""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import git

from copilot_batch import load_jobs
from copilot_batch.runtime.workspace_files import CopiedFiles, copy_files, files_to_copy
from copilot_batch.runtime.workspaces import WorkspaceManager

pytestmark = [pytest.mark.anyio]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def commit_all(repository: Path, *paths: str) -> None:
    git("add", "-f", *(paths or ("-A",)), cwd=repository)
    git("commit", "-q", "-m", "commit", cwd=repository)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with every kind of file git distinguishes."""
    root = tmp_path / "project"
    root.mkdir()
    git("init", "-q", cwd=root)
    write(root, {
        ".gitignore": "node_modules/\n*.log\n",
        "src/app.py": "app\n",
        "keep.log": "tracked although ignored\n",
        "gone.txt": "deleted from the working tree, still tracked\n",
    })  # fmt: skip
    commit_all(root)
    (root / "gone.txt").unlink()
    write(root, {
        "src/new.py": "untracked\n",
        "debug.log": "ignored\n",
        "node_modules/left-pad/index.js": "ignored\n",
        "nested/inner.txt": "a repository inside, not a submodule\n",
    })  # fmt: skip
    git("init", "-q", cwd=root / "nested")
    (root / "link").symlink_to("src/app.py")
    library = tmp_path / "library"
    library.mkdir()
    git("init", "-q", cwd=library)
    write(library, {"lib.py": "library\n"})
    commit_all(library)
    git("submodule", "add", "-q", str(library), "vendor/library", cwd=root)
    commit_all(root, ".gitmodules", "vendor/library")
    return root


async def test_in_a_repository_a_copy_takes_what_git_would(project: Path, tmp_path: Path) -> None:
    paths = await files_to_copy(project, left_out=())
    assert paths == [
        ".gitignore",
        ".gitmodules",
        "gone.txt",  # listed, skipped when copying
        "keep.log",
        "link",
        "nested/inner.txt",
        "src/app.py",
        "src/new.py",
        "vendor/library/lib.py",
    ]
    copy = tmp_path / "copy"
    copied = copy_files(project, copy, paths)
    files = [p for p in paths if p != "gone.txt"]
    assert copied == CopiedFiles(
        files=len(files),
        bytes=sum((project / p).stat().st_size for p in files if p != "link"),
    )
    assert (copy / "link").is_symlink() and str((copy / "link").readlink()) == "src/app.py"
    assert not (copy / "gone.txt").exists()
    assert not (copy / "nested" / ".git").exists() and not (copy / "vendor/library/.git").exists()


async def test_in_a_subfolder_paths_start_there_and_the_repositorys_rules_apply(
    project: Path,
) -> None:
    write(project, {"src/trace.log": "ignored by the top .gitignore\n"})
    assert await files_to_copy(project / "src", left_out=()) == ["app.py", "new.py"]


async def test_outside_a_repository_every_gitignore_is_honoured(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, {
        ".gitignore": "build/\n*.tmp\n",
        "main.c": "int main;\n",
        "build/main.o": "object\n",
        "scratch.tmp": "scratch\n",
        "docs/.gitignore": "/draft.md\n",
        "docs/guide.md": "guide\n",
        "docs/draft.md": "draft\n",
        "tool/run.sh": "run\n",
    })  # fmt: skip
    git("init", "-q", cwd=folder / "tool")  # a repository inside: its files, not its .git
    assert await files_to_copy(folder, left_out=()) == [
        ".gitignore",
        "docs/.gitignore",
        "docs/guide.md",
        "main.c",
        "tool/run.sh",
    ]


async def test_an_ignored_folder_of_a_repository_is_copied_by_its_own_rules(
    project: Path,
) -> None:
    write(
        project, {"node_modules/left-pad/.gitignore": "*.map\n", "node_modules/left-pad/a.map": ""}
    )
    assert await files_to_copy(project / "node_modules", left_out=()) == [
        "left-pad/.gitignore",
        "left-pad/index.js",
    ]


async def test_run_folders_inside_the_source_are_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, {"a.txt": "a\n", "runs/r1/run.json": "{}\n", "runsheet.txt": "kept\n"})
    left_out = [folder / "runs", tmp_path / "elsewhere"]
    assert await files_to_copy(folder, left_out) == ["a.txt", "runsheet.txt"]


async def test_workspace_exclude_is_gitignore_patterns_from_the_source_tracked_files_too(
    project: Path,
) -> None:
    exclude = ["src/", "*.log", "vendor/**/*.py", "!keep.log"]
    assert await files_to_copy(project, (), exclude) == [
        ".gitignore",
        ".gitmodules",
        "gone.txt",
        "keep.log",
        "link",
        "nested/inner.txt",
    ]


async def test_a_job_at_the_root_of_out_leaves_every_run_folder_out(tmp_path: Path) -> None:
    """--out . from the project: the project is the out folder; its run folders stay out."""
    project = tmp_path / "project"
    write(project, {
        "src/a.py": "a\n",
        "20260101-000000-aaaa/run.json": "{}\n",
        "20260101-000000-aaaa/tasks/t/result.json": "{}\n",
        "r2/run.json": "{}\n",
        "job.yaml": "version: 1\ntasks: [{id: t, prompt: x, workspace: copy}]\n",
    })  # fmt: skip
    [job] = load_jobs([project / "job.yaml"])
    workspace = await WorkspaceManager(project / "r2", "r2").prepare(job.tasks[0])
    assert workspace is not None
    copied = sorted(
        p.relative_to(workspace.path).as_posix()
        for p in workspace.path.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(workspace.path).parts
    )
    assert copied == ["job.yaml", "src/a.py"]
    assert workspace.to_record()["copied_files"] == 2
    assert workspace.to_record()["copied_bytes"] == sum(
        (project / p).stat().st_size for p in copied
    )
