"""What a run leaves on disk and prints: the run folder, event logs, run.log, reports."""
