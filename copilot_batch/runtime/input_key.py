"""A task's input key: one hash of what it would do (its expanded spec) and of what it
works on (its skills' files and its input files, each as a content digest). Two runs of a
task with the same key would start from the same place, so an incremental run may reuse
the earlier one's result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def content_digest(data: bytes) -> str:
    """A file's content as the key counts it (the digest ``hash_regular_file`` gives)."""
    return hashlib.sha256(data).hexdigest()


def input_key(spec_hash: str, skills: Mapping[str, str], inputs: Mapping[str, str]) -> str:
    """The key of a task whose spec hashes to ``spec_hash``, whose skills' files and input
    files (paths → content digests) are ``skills`` and ``inputs``. It changes when the spec,
    a path, or a file's content changes, and with nothing else (not the order given)."""
    canonical = json.dumps(
        [spec_hash, sorted(skills.items()), sorted(inputs.items())],
        ensure_ascii=True,  # paths that are not UTF-8 keep their surrogate escapes
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]
