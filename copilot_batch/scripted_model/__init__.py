"""The scripted model: replays recorded conversations as an OpenAI-compatible server.

Tests, the offline demo and ``copilot-batch run --replay`` point sessions at it so the
real Copilot CLI runs its full agent loop without a network or a GitHub login. It uses
nothing from the rest of copilot-batch but its errors and its file reader.
"""

from typing import TYPE_CHECKING

from ..errors import ScriptError
from ..lazy import lazy_names
from .dump import dump_messages, dump_script
from .fault_spec import FAULT_SYNTAX, FaultKind, parse_fault
from .matcher import Diagnosis, Difference, Match, find_reply
from .normalize import Message, ToolCall, coalesce, expand_reply, normalize_messages
from .rebuild import Rebuilt, rebuild_conversation
from .script import Conversation, Script, load_script, load_scripts, parse_script

if TYPE_CHECKING:
    from .server import Fault, RequestRecord, ScriptedModel, serve_forever

# The server (aiohttp) is imported on first use: the command line names FAULT_SYNTAX in its
# options, and validating a job file must not pay for a web server.
__getattr__ = lazy_names(
    __name__,
    {name: ".server" for name in ("Fault", "RequestRecord", "ScriptedModel", "serve_forever")},
)

__all__ = [
    "FAULT_SYNTAX",
    "Conversation",
    "Diagnosis",
    "Difference",
    "Fault",
    "FaultKind",
    "Match",
    "Message",
    "Rebuilt",
    "RequestRecord",
    "Script",
    "ScriptError",
    "ScriptedModel",
    "ToolCall",
    "coalesce",
    "dump_messages",
    "dump_script",
    "expand_reply",
    "find_reply",
    "load_script",
    "load_scripts",
    "normalize_messages",
    "parse_fault",
    "parse_script",
    "rebuild_conversation",
    "serve_forever",
]
