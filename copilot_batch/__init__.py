"""copilot-batch."""
