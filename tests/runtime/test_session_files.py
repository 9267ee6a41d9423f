"""A session's filesystem: its state in memory, everything else on disk, as the SDK's adapter
hands the CLI's requests to it."""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePosixPath

import pytest
from copilot.generated.rpc import (
    SessionFSErrorCode,
    SessionFSReadFileRequest,
    SessionFSStatRequest,
)
from copilot.session_fs_provider import create_session_fs_adapter
from hypothesis import example, given
from hypothesis import strategies as st

from copilot_batch.runtime.memory_files import FILE, FOLDER, MemoryFiles
from copilot_batch.runtime.session_files import SessionFiles

pytestmark = pytest.mark.anyio


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "work").mkdir()
    (tmp_path / "copilot-home").mkdir()
    return tmp_path / "work", tmp_path / "copilot-home"


async def test_session_state_stays_in_memory_and_the_work_reaches_the_disk(
    homes: tuple[Path, Path],
) -> None:
    work, home = homes
    files = SessionFiles(work, home)
    workspace = f"{home}/session-state/4f1c/workspace.yaml"
    await files.append_file("/session-state/events.jsonl", '{"type": "user.message"}\n')
    await files.append_file("/session-state/events.jsonl", '{"type": "assistant.message"}\n')
    await files.write_file(workspace, "id: 4f1c\n", 0o600)
    await files.write_file("notes.txt", "from the agent\n")

    assert await files.read_file("/session-state/events.jsonl") == (
        '{"type": "user.message"}\n{"type": "assistant.message"}\n'
    )
    assert await files.read_file(workspace) == "id: 4f1c\n"
    assert [entry.name for entry in await files.readdir_with_types(f"{home}/session-state")] == [
        "4f1c"
    ]
    # The state is nowhere on disk; the agent's file is, in the working directory.
    assert list(home.iterdir()) == []
    assert (work / "notes.txt").read_text() == "from the agent\n"
    assert await files.read_file(str(work / "notes.txt")) == "from the agent\n"


async def test_files_on_disk_keep_their_exact_bytes(homes: tuple[Path, Path]) -> None:
    work, home = homes
    files = SessionFiles(work, home)
    data = b"line\r\nnot utf-8: \xff\xfe\x00"
    await files.write_file_bytes("image.bin", data)
    assert (work / "image.bin").read_bytes() == data
    assert await files.read_file_bytes(str(work / "image.bin")) == data
    # As text, a file that is not UTF-8 is refused, never altered.
    with pytest.raises(UnicodeDecodeError):
        await files.read_file("image.bin")
    (work / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    await files.write_file("crlf.txt", (await files.read_file("crlf.txt")).replace("a", "c"))
    assert (work / "crlf.txt").read_bytes() == b"c\r\nb\r\n"


async def test_a_new_file_gets_the_mode_asked_for(homes: tuple[Path, Path]) -> None:
    work, home = homes
    await SessionFiles(work, home).write_file("private.txt", "x", 0o600)
    assert (work / "private.txt").stat().st_mode & 0o777 == 0o600


async def test_missing_paths_reach_the_cli_as_enoent(homes: tuple[Path, Path]) -> None:
    work, home = homes
    adapter = create_session_fs_adapter(SessionFiles(work, home))
    for path in ("/session-state/plan.md", str(work / "absent.txt")):
        result = await adapter.read_file(SessionFSReadFileRequest(path, "session"))
        assert result.error is not None and result.error.code is SessionFSErrorCode.ENOENT
        stat = await adapter.stat(SessionFSStatRequest(path, "session"))
        assert stat.error is not None and stat.error.code is SessionFSErrorCode.ENOENT


async def test_moving_between_memory_and_disk_is_refused(homes: tuple[Path, Path]) -> None:
    work, home = homes
    files = SessionFiles(work, home)
    await files.write_file("/session-state/temp/output.txt", "large output")
    with pytest.raises(OSError) as caught:
        await files.rename("/session-state/temp/output.txt", str(work / "output.txt"))
    assert caught.value.errno == errno.EXDEV
    assert not (work / "output.txt").exists()


async def test_folders_on_disk(homes: tuple[Path, Path]) -> None:
    work, home = homes
    files = SessionFiles(work, home)
    await files.mkdir("a/b", recursive=True)
    await files.write_file("a/b/c.txt", "c")
    assert [(e.name, e.type) for e in await files.readdir_with_types("a")] == [("b", FOLDER)]
    assert (await files.stat("a/b/c.txt")).size == 1
    with pytest.raises(OSError):
        await files.rm("a", recursive=False, force=False)
    await files.rename("a", "z")
    assert await files.readdir("z/b") == ["c.txt"]
    await files.rm("z", recursive=True, force=False)
    await files.rm("z", recursive=True, force=True)  # already gone: fine when forced
    assert not await files.exists("z")
    assert sorted(os.listdir(work)) == []


def test_memory_folders_behave_like_the_disks() -> None:
    memory = MemoryFiles()
    with pytest.raises(FileNotFoundError):
        memory.mkdir("/a/b", recursive=False)
    memory.mkdir("/a/b", recursive=True)
    with pytest.raises(OSError) as exists:
        memory.mkdir("/a/b", recursive=False)
    assert exists.value.errno == errno.EEXIST
    memory.write("/a/b/c.txt", b"one")
    memory.write("/a/b/c.txt", b"+two", append=True)
    memory.write("/a/d.txt", b"d")
    assert memory.read("/a/b/c.txt") == b"one+two"
    assert [(e.name, e.type) for e in memory.entries("/a")] == [("b", FOLDER), ("d.txt", FILE)]
    assert memory.stat("/a/b/c.txt").size == 7 and memory.stat("/a/b").is_directory

    with pytest.raises(OSError) as not_empty:
        memory.rm("/a", recursive=False, force=False)
    assert not_empty.value.errno == errno.ENOTEMPTY
    memory.rename("/a", "/moved")
    assert memory.read("/moved/b/c.txt") == b"one+two" and not memory.exists("/a/b")
    memory.rm("/moved", recursive=True, force=False)
    assert [e.name for e in memory.entries("/")] == []
    memory.rm("/moved", recursive=True, force=True)
    with pytest.raises(FileNotFoundError):
        memory.rm("/moved", recursive=True, force=False)
    with pytest.raises(IsADirectoryError):
        memory.read("/")


HOME = Path("/runs/r1/copilot-home")
SEGMENTS = st.sampled_from(["session-state", "session-state-2", "x", ".", "..", "", "runs"])


def _kept_in_memory(path: str) -> str | None:
    """What the session's files keep in memory, by comparing path objects and parents."""
    absolute = PurePosixPath(Path("/work") / path)
    roots = (PurePosixPath("/session-state"), PurePosixPath(HOME, "session-state"))
    inside = any(absolute == root or root in absolute.parents for root in roots)
    return str(absolute) if inside else None


@given(
    st.sampled_from(["", "/", "//", str(HOME) + "/"]),
    st.lists(SEGMENTS, max_size=5),
    st.sampled_from(["", "/", "/."]),
)
@example("/", ["session-state", ".", "x"], "")
@example("//", ["session-state", "x"], "")
@example("/", ["session-state-2", "x"], "")
@example("/", ["session-state", "..", "x"], "")
def test_paths_in_memory_are_those_under_the_session_state(
    start: str, segments: list[str], end: str
) -> None:
    path = start + "/".join(segments) + end
    assert SessionFiles(Path("/work"), HOME)._memory_key(path) == _kept_in_memory(path)
