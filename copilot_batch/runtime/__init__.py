"""Running tasks: the CLI binary, the client, sessions, permissions, the runner."""
