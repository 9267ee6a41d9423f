"""Every error copilot-batch raises, in one hierarchy.

::

    CopilotBatchError
     ├── InvalidInputError            bad input from the user; exit code 2, nothing started
     │    ├── JobFileError            one problem at one place in a job file
     │    ├── JobFilesInvalid         every JobFileError found in one validation pass
     │    ├── NoJobFilesError         the paths and globs matched no file
     │    ├── NoTasksSelectedError    --only matched no task
     │    ├── ConflictingCliUrlsError job files name different CLI servers
     │    ├── RunNotFoundError        no run folder (or no such task in it) at the path given
     │    ├── RunFolderError          a run folder's file is missing, unreadable or misshapen
     │    ├── MergeError              shard run folders that cannot be merged
     │    ├── RunLockedError          another process is writing the run folder
     │    ├── OptionError             a command-line option that cannot be used as given
     │    ├── ScriptError             a scripted-model script could not be loaded
     │    ├── RecordingSecretError    a task's --record recording would hold a secret
     │    ├── ToolImportError         a tools.custom entry gives no tools (becomes a JobFileError)
     │    ├── HookImportError         a hooks entry gives no hook function (becomes a JobFileError)
     │    └── SkillError              a skills directory the CLI cannot use (becomes a JobFileError)
     ├── SetupError                   the environment cannot run tasks; exit code 2
     │    ├── CliNotFoundError        no Copilot CLI binary was found
     │    ├── CliStartError           the Copilot CLI did not start
     │    ├── CliConnectError         the Copilot CLI server at --cli-url did not answer
     │    ├── CliCrashedError         the Copilot CLI died more often than max_cli_restarts
     │    ├── ModelServerError        the scripted model cannot listen where it was told
     │    ├── NoAuthError             tasks need the GitHub Copilot API; nothing signs them in
     │    └── SandboxUnavailableError tasks ask for the OS sandbox; this machine cannot run it
     ├── PatchApplyError              a task's patch does not apply to its source; exit code 1
     ├── InternalError                a bug: an exception nobody foresaw; exit code 70
     ├── ToolFailure                  a custom tool's refusal, its message meant for the model
     └── TaskFailure                  why a task did not end ok; recorded, never raised out of a run
          ├── TaskTimeout             the task's wall-clock limit expired
          ├── LimitExceeded           the attempt spent more than one of the task's limits
          ├── HookFailed              a job file's hook raised while the session ran
          ├── SessionError            the session reported session.error
          ├── CliProcessExited        the Copilot CLI process died while the task ran
          ├── TaskCancelled           the run stopped before the task finished (or started)
          ├── ExternalFailure         the SDK, the CLI's connection or the filesystem failed
          ├── OutputProblem           an answer is not the output asked for (shown to the agent)
          │    └── OutputInvalidError the answer still did not match the task's output_schema
          └── WorkspaceError          a git command preparing or collecting a workspace failed

Exceptions carry structured fields; ``str()`` renders them for people. Every process exit
code copilot-batch uses is an :class:`ExitCode`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path


class ExitCode(enum.IntEnum):
    """How a copilot-batch command ends."""

    OK = 0
    TASKS_FAILED = 1  # a task did not end ok, or a patch did not apply
    INVALID_INPUT = 2  # bad input or an environment that cannot run tasks; nothing started
    INTERNAL_ERROR = 70  # a bug (EX_SOFTWARE)
    INTERRUPTED = 130  # SIGINT or SIGTERM (128 + SIGINT)


class CopilotBatchError(Exception):
    """Base class of every error copilot-batch raises."""

    exit_code: ExitCode = ExitCode.TASKS_FAILED


class InvalidInputError(CopilotBatchError):
    """The user's input is invalid; the run must not start."""

    exit_code = ExitCode.INVALID_INPUT


class JobFileError(InvalidInputError):
    """One problem at one position in a job file.

    ``line`` and ``column`` are 1-based. ``json_path`` is the JSONPath of the value
    (``$.tasks[0].prompt``), or ``None`` when the file could not be parsed at all.
    """

    def __init__(
        self,
        path: Path,
        line: int,
        column: int,
        json_path: str | None,
        message: str,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.json_path = json_path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        if self.json_path is None:
            return f"{where}: {self.message}"
        return f"{where}: {self.json_path}: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (str(self.path), self.line, self.column, self.json_path or "")


class JobFilesInvalid(InvalidInputError):
    """Every problem found in a set of job files, reported at once."""

    def __init__(self, errors: Sequence[JobFileError]) -> None:
        self.errors = tuple(sorted(errors, key=JobFileError.sort_key))
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


class NoJobFilesError(InvalidInputError):
    """A path or glob on the command line matched no job file."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "no job file matches " + ", ".join(repr(p) for p in self.patterns)


class NoTasksSelectedError(InvalidInputError):
    """``--only`` globs matched none of the expanded task ids."""

    def __init__(self, patterns: Sequence[str], task_ids: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self.task_ids = tuple(task_ids)
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = ", ".join(self.task_ids[:10]) + (" …" if len(self.task_ids) > 10 else "")
        return f"--only {' '.join(self.patterns)} matches none of the tasks: {shown}"


class ConflictingCliUrlsError(InvalidInputError):
    """The job files of one run name different ``cli_url`` servers; a run has one client."""

    def __init__(self, urls: dict[Path, str]) -> None:
        self.urls = dict(urls)
        super().__init__(str(self))

    def __str__(self) -> str:
        named = ", ".join(f"{path} names {url}" for path, url in self.urls.items())
        return f"the job files name different Copilot CLI servers ({named}); use --cli-url"


class RunNotFoundError(InvalidInputError):
    """The run folder (or the task in it) the command names does not exist."""

    def __init__(self, looked_for: str, task_id: str | None = None) -> None:
        self.looked_for = looked_for
        self.task_id = task_id
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.task_id is not None:
            return f"run {self.looked_for} has no task {self.task_id!r}"
        return f"no run folder (with a run.json) at {self.looked_for}"


class RunFolderError(InvalidInputError):
    """A file of a run folder is missing, unreadable, or not what copilot-batch writes.

    ``field`` is the JSONPath of the bad value (``$.tasks[0].status``), or ``None`` when
    the file as a whole is at fault; ``problem`` reads after the path or the field.
    """

    def __init__(self, path: Path, problem: str, field: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.field is None:
            return f"{self.path} {self.problem}"
        return f"{self.path}: {self.field}: {self.problem}"


class MergeError(InvalidInputError):
    """Shard run folders that do not belong together (other job files, shared tasks), or a
    merged folder that could not be made."""

    def __init__(self, reason: str, folders: Sequence[Path]) -> None:
        self.reason = reason
        self.folders = tuple(folders)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cannot merge {', '.join(map(str, self.folders))}: {self.reason}"


class RunLockedError(InvalidInputError):
    """Another copilot-batch process holds the run folder's lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"run folder {self.path} is in use by another copilot-batch process"


class OptionError(InvalidInputError):
    """A command-line option whose value the file system refuses: a run folder that exists,
    an --out that is a file or cannot be written."""

    def __init__(self, option: str, value: str, problem: str) -> None:
        self.option = option
        self.value = value
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.option} {self.value}: {self.problem}"


class RecordingSecretError(InvalidInputError):
    """What a task sent its model holds a secret (a provider key, a token the run knows),
    so ``run --record`` writes no recording: replaying would need the secret in the file."""

    def __init__(self, task_id: str, role: str) -> None:
        self.task_id = task_id
        self.role = role
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"--record: task {self.task_id} sent its model a secret (in a {self.role} "
            "message); no recording was written"
        )


class ScriptError(InvalidInputError):
    """A scripted-model script could not be loaded. ``line`` is 1-based, ``None`` when unknown."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.message}"


class ToolImportError(InvalidInputError):
    """A ``tools.custom`` entry that gives no tools; the loader reports it at the entry."""


class HookImportError(InvalidInputError):
    """A ``hooks`` entry that gives no hook function; the loader reports it at the entry."""


class SkillError(InvalidInputError):
    """A skills directory or skill folder the CLI could not use; the message says why."""


class SetupError(CopilotBatchError):
    """The environment cannot run tasks: no CLI, a CLI that will not start."""

    exit_code = ExitCode.INVALID_INPUT


class CliNotFoundError(SetupError):
    """No Copilot CLI binary was found in any of the places copilot-batch looks."""

    def __init__(self, searched: Sequence[str], version: str) -> None:
        self.searched = tuple(searched)
        self.version = version  # the version copilot-batch pins
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            "The GitHub Copilot CLI was not found. copilot-batch drives the Copilot CLI "
            f"(npm package @github/copilot {self.version}) and never downloads it. Install it "
            "with `npm ci` in the copilot-batch repository, or "
            f"`npm install -g @github/copilot@{self.version}`, or point to a binary with "
            "--cli-path or the COPILOT_CLI_PATH environment variable. "
            "Looked in: " + "; ".join(self.searched) + "."
        )


class CliStartError(SetupError):
    """The Copilot CLI process could not be started or did not answer."""

    def __init__(self, cli_path: str, reason: str) -> None:
        self.cli_path = cli_path
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"the Copilot CLI at {self.cli_path} did not start: {self.reason}"


class CliConnectError(SetupError):
    """The Copilot CLI server named by ``--cli-url`` or ``cli_url`` could not be reached."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cannot connect to the Copilot CLI server at {self.url}: {self.reason}"


class CliCrashedError(SetupError):
    """The Copilot CLI process died again after ``restarts`` restarts; the run stopped."""

    def __init__(self, restarts: int, reason: str) -> None:
        self.restarts = restarts
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"the Copilot CLI process died after {self.restarts} restart(s), the most "
            f"allowed (--max-cli-restarts); the run stopped: {self.reason}"
        )


class ModelServerError(SetupError):
    """The scripted model could not listen on ``host:port`` (a bad host, a port in use)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"the scripted model cannot listen on {self.host}:{self.port}: {self.reason}"


class NoAuthError(SetupError):
    """Tasks without a provider need the GitHub Copilot API, and the CLI is not signed in."""

    def __init__(self, task_ids: Sequence[str]) -> None:
        self.task_ids = tuple(task_ids)
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = ", ".join(self.task_ids[:10]) + (" …" if len(self.task_ids) > 10 else "")
        return (
            f"{len(self.task_ids)} task(s) have no provider, so they use the GitHub Copilot "
            "API, but the Copilot CLI is not signed in. Set COPILOT_GITHUB_TOKEN, GH_TOKEN or "
            "GITHUB_TOKEN to a token with Copilot access, run `copilot login`, or give the "
            "tasks a bring-your-own-key `provider` in the job file. No task was started. "
            f"Tasks: {shown}"
        )


class SandboxUnavailableError(SetupError):
    """Tasks ask for the OS sandbox (``sandbox:``) and the CLI says this machine cannot run
    it, or not the parts their policies use. ``missing`` pairs each missing part (``sandbox``
    for the backend itself, or the CLI's name of a feature: ``network``…) with the CLI's
    reason, which names what to install."""

    def __init__(self, task_ids: Sequence[str], missing: Sequence[tuple[str, str]]) -> None:
        self.task_ids = tuple(task_ids)
        self.missing = tuple(missing)
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = ", ".join(self.task_ids[:10]) + (" …" if len(self.task_ids) > 10 else "")
        reasons = "; ".join(f"{part}: {reason}" for part, reason in self.missing)
        return (
            f"{len(self.task_ids)} task(s) ask for the OS sandbox (sandbox:), but the Copilot "
            f"CLI cannot run what they need on this machine. Missing: {reasons}. On Linux the "
            "sandbox needs Bubblewrap (apt-get install bubblewrap); network access from it "
            "also needs slirp4netns (apt-get install slirp4netns). Install what is missing, "
            "or remove sandbox (or its network settings) from the tasks. No task was "
            f"started. Tasks: {shown}"
        )


class PatchApplyError(CopilotBatchError):
    """``git apply`` refused a task's patch (a conflict); the source was left unchanged."""

    def __init__(self, patch: Path, source: Path, reason: str) -> None:
        self.patch = patch
        self.source = source
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.patch} does not apply to {self.source}; nothing was changed: {self.reason}"


class InternalError(CopilotBatchError):
    """A bug in copilot-batch: an exception it did not foresee. ``log`` holds the traceback
    (the run's run.log, or a file in the temporary directory; None if it could not be
    written); ``report_to`` is where to report the bug."""

    exit_code = ExitCode.INTERNAL_ERROR

    def __init__(self, error_type: str, message: str, log: Path | None, report_to: str) -> None:
        self.error_type = error_type
        self.message = message
        self.log = log
        self.report_to = report_to
        super().__init__(str(self))

    def __str__(self) -> str:
        saved = f"traceback in {self.log}" if self.log else "the traceback could not be saved"
        return (
            f"copilot-batch hit a bug: {self.error_type}: {self.message} ({saved}); "
            f"please report it at {self.report_to}"
        )


class ToolFailure(CopilotBatchError):
    """Raised inside a custom tool: a refusal or error whose message is meant for the model
    (the tool call fails; the task goes on)."""


class TaskFailure(CopilotBatchError):
    """Why one task did not end ``ok``. The runner records these; it never re-raises them.
    ``transient``: worth a fresh attempt."""

    @property
    def transient(self) -> bool:
        return False

    @property
    def type_name(self) -> str | None:
        """The ``error_type`` result.json records: the failure's class name."""
        return type(self).__name__


class TaskTimeout(TaskFailure):
    """The task's wall-clock limit expired; the session was aborted."""

    def __init__(self, limit: str, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.limit} of {self.seconds:g}s expired; the session was aborted"


class LimitExceeded(TaskFailure):
    """The attempt crossed one of the task's ``limits`` (``limit``: tokens, tool_calls,
    turns, ai_credits): ``value`` was reached where ``maximum`` was allowed; the session was
    aborted. ``estimated``: the part of ``value`` estimated for model calls whose usage the
    provider did not report. Not transient: a fresh attempt would spend as much."""

    def __init__(self, limit: str, value: float, maximum: float, estimated: float = 0) -> None:
        self.limit = limit
        self.value = value
        self.maximum = maximum
        self.estimated = estimated
        super().__init__(str(self))

    def __str__(self) -> str:
        estimate = f", {_number(self.estimated)} of them estimated" if self.estimated else ""
        return (
            f"limits.{self.limit} of {_number(self.maximum)} crossed "
            f"({_number(self.value)}{estimate}); the session was aborted"
        )


class HookFailed(TaskFailure):
    """A hook of the job file (``kind``, ``handler``: its import path) raised ``error``
    (its type and message). The tool call it was asked about was denied, or its result
    withheld; the turn went on and the task then ended ``failed``."""

    def __init__(self, kind: str, handler: str, error: str) -> None:
        self.kind = kind
        self.handler = handler
        self.error = error
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"hook {self.kind} {self.handler} raised {self.error}"


def _number(value: float) -> str:
    """A count as written (1500000, not 1.5e+06); credits with their decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


class SessionError(TaskFailure):
    """The session reported ``session.error``; ``warning``, the CLI's last
    ``session.warning`` of the same turn, often says why when the error does not (a
    ``max_prompt_tokens`` smaller than the system prompt and tools: "No response was
    returned")."""

    def __init__(
        self, error_type: str, message: str, status_code: int | None, warning: str | None = None
    ) -> None:
        self.error_type = error_type
        self.message = message
        self.status_code = status_code
        self.warning = warning
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        warned = f" (the CLI warned: {self.warning})" if self.warning else ""
        return f"{self.error_type}{status}: {self.message}{warned}"

    @property
    def transient(self) -> bool:
        """The model was rate-limited or failing (408, 429, 5xx), or unreachable (the CLI
        gave up after its own retries)."""
        if self.status_code is not None:
            return self.status_code in (408, 429) or self.status_code >= 500
        return "Failed to get response from the AI model" in self.message


class CliProcessExited(TaskFailure):
    """The Copilot CLI process running the task's session died; ``replaced`` when the run
    started a new one, on which the task runs again."""

    def __init__(self, replaced: bool) -> None:
        self.replaced = replaced
        super().__init__(str(self))

    def __str__(self) -> str:
        again = "; it runs again on a new one" if self.replaced else ""
        return f"the Copilot CLI process exited during the task{again}"


class TaskCancelled(TaskFailure):
    """The run stopped (``reason``) before the task finished, or before it ``started``.
    result.json records no ``error_type`` for it."""

    def __init__(self, reason: str, started: bool) -> None:
        self.reason = reason
        self.started = started
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.reason} before the task {'finished' if self.started else 'started'}"

    @property
    def type_name(self) -> str | None:
        return None


class ExternalFailure(TaskFailure):
    """An exception from outside copilot-batch stopped the task: the SDK or the CLI's
    connection (``transient``), or the filesystem. ``type_name`` is that exception's."""

    def __init__(self, error: BaseException, transient: bool) -> None:
        self.error_type = type(error).__name__
        self.message = str(error)
        self.retryable = transient
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.message or self.error_type

    @property
    def transient(self) -> bool:
        return self.retryable

    @property
    def type_name(self) -> str | None:
        return self.error_type


class OutputProblem(TaskFailure):
    """Why an answer is not a valid output; the text is shown to the agent on retry."""


class OutputInvalidError(OutputProblem):
    """The final answer held no JSON, or JSON that does not match the task's output_schema."""

    def __init__(self, problem: str, attempts: int) -> None:
        self.problem = problem
        self.attempts = attempts
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"the answer does not match output_schema after {self.attempts} tries: {self.problem}"
        )


class WorkspaceError(TaskFailure):
    """A git command that prepares or collects a task's workspace failed."""

    def __init__(self, command: str, cwd: Path, stderr: str) -> None:
        self.command = command
        self.cwd = cwd
        self.stderr = stderr
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.command} in {self.cwd} failed: {self.stderr}"
