"""``run --record DIR``: each task's model traffic captured through a recording proxy and
written, after the run, as one scripted-model file per task (``<task-id>.yaml``).

Only tasks with a ``provider`` can be recorded: CLI 1.0.102 sends GitHub Copilot API
requests itself (see docs/conversations.md). The files appear all at once: they are
written into a temporary folder beside ``DIR``, which is renamed to ``DIR`` at the end.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

from ..errors import OptionError, RecordingSecretError
from ..jobfile import TaskSpec
from ..redact import Redactor
from ..scripted_model.proxy import RecordingProxy
from ..scripted_model.recording import HoldsSecret, script_text


@dataclasses.dataclass
class Recording:
    """Where the recording goes, and the proxy capturing it once the run starts."""

    folder: Path
    proxy: RecordingProxy | None = None

    @classmethod
    def checked(cls, folder: Path, tasks: Sequence[TaskSpec]) -> Recording:
        """Refuse before anything runs: a folder already holding files, or tasks that
        talk to the GitHub Copilot API, whose requests cannot be captured."""
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise OptionError("--record", str(folder), "exists and is not an empty folder")
        unrecordable = [task.id for task in tasks if not (task.provider or {}).get("base_url")]
        if unrecordable:
            problem = (
                "only tasks with a provider (base_url) can be recorded; these use the GitHub "
                f"Copilot API: {', '.join(unrecordable)}"
            )
            raise OptionError("--record", str(folder), problem)
        return cls(folder)

    async def start(self, tasks: Sequence[TaskSpec], stack: AsyncExitStack) -> list[TaskSpec]:
        """Start the proxy on ``stack``; the tasks, each pointed at it."""
        upstreams = {task.id: str((task.provider or {})["base_url"]) for task in tasks}
        self.proxy = await stack.enter_async_context(RecordingProxy(upstreams))
        proxy = self.proxy
        return [
            dataclasses.replace(
                task, provider={**(task.provider or {}), "base_url": proxy.base_url(task.id)}
            )
            for task in tasks
        ]

    def write(self, redactor: Redactor) -> None:
        """Every task's script into the folder, or nothing if one would hold a secret."""
        exchanges = self.proxy.exchanges if self.proxy else {}
        texts = {}
        for task_id, captured in exchanges.items():
            if not captured:
                continue
            title = f"Recorded by copilot-batch run --record: task {task_id}"
            try:
                texts[task_id] = script_text(captured, redactor.text, title)
            except HoldsSecret as error:
                raise RecordingSecretError(task_id, str(error)) from None
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", dir=self.folder.parent))
        try:
            for task_id, text in texts.items():
                (partial / f"{task_id}.yaml").write_text(text, encoding="utf-8")
            if self.folder.exists():
                self.folder.rmdir()  # checked empty before the run
            partial.rename(self.folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
