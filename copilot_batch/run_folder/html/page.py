"""report.html: one self-contained page, its data embedded as JSON, its script and style
(``report.js``, ``report.css``, shipped beside this module) inline. It asks for nothing
over the network: no CDN, no fonts, no images by URL."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ...redact import Redactor
from ..layout import RunFolder
from ..reader import StoredRun, StoredTask, read_events, read_patch, read_run
from .data import report_data

_MARKER = re.compile(r"\{\{(title|style|data|script)\}\}")


def write_html_report(run_path: Path) -> Path:
    """Build report.html again from the run folder on disk (``copilot-batch view``)."""
    run = read_run(run_path)
    folder = RunFolder.ended(run_path)
    folder.write_text(folder.report_html, html_report(run, run.results(), folder.redactor))
    return folder.report_html


def html_report(run: StoredRun, tasks: Sequence[StoredTask], redactor: Redactor) -> str:
    """The page of ``run`` and its ``tasks`` (as the reader gave them), their event logs and
    patches read from the run folder and nothing else; passed through ``redactor`` once more."""
    data = report_data(
        run,
        tasks,
        lambda task_id: read_events(run.path, task_id),
        lambda task: read_patch(run.path, task),
    )
    return page(redactor.data(data))


def page(data: Any) -> str:
    """The HTML page around ``data``."""
    parts = {
        "title": html.escape(f"copilot-batch run {data['run'].get('run_id', '')}"),
        "style": _asset("report.css"),
        "data": embedded_json(data),
        "script": _asset("report.js"),
    }
    # One pass over the template: what is put in is not searched for markers again.
    return _MARKER.sub(lambda marker: parts[marker.group(1)], _asset("report.html"))


def embedded_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: every ``<`` (which
    JSON has only inside strings) written as ``\\u003c``, so no ``</script>`` or ``<!--``
    can end or bend the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    # Half of a surrogate pair (an event log may hold one) cannot be written as UTF-8.
    return text.encode("utf-8", "replace").decode("utf-8")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text("utf-8")
