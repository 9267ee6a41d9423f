"""What the runtime tests share beyond copilot_batch.testing: their scripts."""

from __future__ import annotations

from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "data" / "scripts"
