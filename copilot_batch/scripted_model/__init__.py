"""The scripted model: replays recorded conversations as an OpenAI-compatible server.

Tests, the offline demo and ``copilot-batch run --replay`` point sessions at it so the
real Copilot CLI runs its full agent loop without a network or a GitHub login. It uses
nothing from the rest of copilot-batch but its errors and its file reader.
"""

from typing import TYPE_CHECKING

from ..errors import ScriptError
from ..lazy import lazy_names
from .fault_spec import FAULT_SYNTAX, FaultKind, parse_fault

if TYPE_CHECKING:
    from .dump import dump_messages, dump_script
    from .matcher import Diagnosis, Difference, Match, find_reply
    from .normalize import Message, ToolCall, coalesce, expand_reply, normalize_messages
    from .rebuild import Rebuilt, rebuild_conversation
    from .script import Conversation, Script, load_script, load_scripts, parse_script
    from .server import Fault, RequestRecord, ScriptedModel, serve_forever

# Imported on first use but the fault syntax, which the command line's options name: the
# server needs aiohttp, and no command that only reads files should pay for it or the rest.
__getattr__ = lazy_names(
    __name__,
    {
        "dump_messages": ".dump",
        "dump_script": ".dump",
        "Diagnosis": ".matcher",
        "Difference": ".matcher",
        "Match": ".matcher",
        "find_reply": ".matcher",
        "Message": ".normalize",
        "ToolCall": ".normalize",
        "coalesce": ".normalize",
        "expand_reply": ".normalize",
        "normalize_messages": ".normalize",
        "Rebuilt": ".rebuild",
        "rebuild_conversation": ".rebuild",
        "Conversation": ".script",
        "Script": ".script",
        "load_script": ".script",
        "load_scripts": ".script",
        "parse_script": ".script",
        "Fault": ".server",
        "RequestRecord": ".server",
        "ScriptedModel": ".server",
        "serve_forever": ".server",
    },
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
