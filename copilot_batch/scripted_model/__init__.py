"""The scripted model: replays recorded conversations as an OpenAI-compatible server.

Tests, the offline demo and ``copilot-batch run --replay`` point sessions at it so the
real Copilot CLI runs its full agent loop without a network or a GitHub login. It uses
nothing from the rest of copilot-batch but its errors and its file reader.
"""

from ..errors import ScriptError
from .fault_spec import FAULT_SYNTAX, parse_fault
from .matcher import Diagnosis, Difference, Match, find_reply
from .normalize import Message, ToolCall, coalesce, expand_reply, normalize_messages
from .script import Conversation, Script, load_script, load_scripts, parse_script
from .server import Fault, FaultKind, RequestRecord, ScriptedModel, serve_forever

__all__ = [
    "FAULT_SYNTAX",
    "Conversation",
    "Diagnosis",
    "Difference",
    "Fault",
    "FaultKind",
    "Match",
    "Message",
    "RequestRecord",
    "Script",
    "ScriptError",
    "ScriptedModel",
    "ToolCall",
    "coalesce",
    "expand_reply",
    "find_reply",
    "load_script",
    "load_scripts",
    "normalize_messages",
    "parse_fault",
    "parse_script",
    "serve_forever",
]
