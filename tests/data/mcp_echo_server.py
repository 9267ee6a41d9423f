"""A minimal MCP server over stdio for tests: one tool, ``echo``, that returns its text.

Newline-delimited JSON-RPC 2.0 on stdin and stdout, standard library only.
"""

import json
import sys


def reply(message_id: object, result: object) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message_id, "result": result}) + "\n")
    sys.stdout.flush()


ECHO = {
    "name": "echo",
    "description": "Return the text it is given.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}

for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    method, message_id = message.get("method"), message.get("id")
    if message_id is None:
        continue  # a notification, such as notifications/initialized
    if method == "initialize":
        version = message["params"].get("protocolVersion", "2024-11-05")
        info = {"name": "echo", "version": "1"}
        reply(
            message_id,
            {"protocolVersion": version, "capabilities": {"tools": {}}, "serverInfo": info},
        )
    elif method == "tools/list":
        reply(message_id, {"tools": [ECHO]})
    elif method == "tools/call":
        text = message["params"]["arguments"]["text"]
        reply(message_id, {"content": [{"type": "text", "text": f"echo: {text}"}]})
    else:
        reply(message_id, {})
