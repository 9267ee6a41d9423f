"""Create the three small git repositories that jobs/review-repos.yaml reviews.

Run from anywhere: ``python jobs/review/make_sample_repos.py [FOLDER]``. The repositories
go to ``FOLDER/<name>``; by default ``jobs/review/repos/`` (ignored by git), where the job
looks for them. Existing ones are recreated, so every demo and test starts from the same
commit contents. Tests give a folder of their own, so the checkout is never written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

REPOS = Path(__file__).resolve().parent / "repos"

SOURCES = {
    "billing": {
        "invoice.py": '''\
def invoice_total(items):
    total = 0.0
    for item in items:
        total += item["price"] * item["qty"]
    return round(total, 2)


def parse_amount(text):
    try:
        return float(text)
    except:
        return 0
''',
    },
    "search": {
        "query.py": '''\
import sqlite3


def find_products(connection: sqlite3.Connection, name: str) -> list[tuple[int, str]]:
    sql = f"SELECT id, name FROM products WHERE name LIKE '%{name}%'"
    return connection.execute(sql).fetchall()
''',
    },
    "notify": {
        "mailer.py": '''\
import smtplib

PASSWORD = "hunter2"


def send(to: str, body: str) -> None:
    server = smtplib.SMTP("mail.example.com")
    server.login("alerts", PASSWORD)
    server.sendmail("alerts@example.com", to, body)
''',
    },
}

# Fixed identity and dates: the same commits on every machine.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Sample Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Sample Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def make_repository(name: str, files: dict[str, str], folder: Path = REPOS) -> Path:
    path = folder / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    for file_name, text in files.items():
        (path / file_name).write_text(text, encoding="utf-8")
    environment = {**os.environ, **_GIT_ENV}
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", f"{name}: first version"],
    ):
        subprocess.run(command, cwd=path, env=environment, check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder", nargs="?", type=Path, default=REPOS, help=f"where to make them (default {REPOS})"
    )
    folder = parser.parse_args().folder
    for name, files in SOURCES.items():
        print(make_repository(name, files, folder))


if __name__ == "__main__":
    main()
