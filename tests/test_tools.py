"""copilot_batch.tools: the sql_query and read_data factories, called through their handlers."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import yaml
from copilot import Tool, ToolInvocation, ToolResult

from copilot_batch.tools import MAX_OUTPUT_BYTES, read_data, sql_query

pytestmark = pytest.mark.anyio

REPOSITORY = Path(__file__).resolve().parents[1]


async def call(tool: Tool, **arguments: object) -> ToolResult:
    """Invoke ``tool`` the way a session does: its handler, with a ToolInvocation."""
    assert tool.handler is not None
    invocation = ToolInvocation(
        session_id="session-1",
        tool_call_id="toolcall_0",
        tool_name=tool.name,
        arguments=arguments,
    )
    result = tool.handler(invocation)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, ToolResult)
    return result


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A small database: ``items`` with 5 rows, one of them with a NULL and a pipe."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL);
            INSERT INTO items VALUES (1, 'mug', 12.5), (2, 'tee', 22.0), (3, 'cap', NULL),
                                     (4, 'a|b', 1.0), (5, 'pen', 2.0);
            """
        )
    connection.close()
    return path


# sql_query


async def test_select_returns_a_markdown_table_with_row_count(shop: Path) -> None:
    tool = sql_query("shop.db", working_directory=shop.parent)
    assert tool.name == "sql_query"
    assert "items(id, name, price)" in tool.description
    assert tool.parameters is not None and tool.parameters["required"] == ["query"]

    result = await call(tool, query="SELECT id, name, price FROM items WHERE id >= 3 ORDER BY id")

    assert result.result_type == "success"
    assert result.text_result_for_llm == (
        "| id | name | price |\n"
        "| --- | --- | --- |\n"
        "| 3 | cap | NULL |\n"
        "| 4 | a\\|b | 1.0 |\n"
        "| 5 | pen | 2.0 |\n"
        "\n"
        "(3 rows)"
    )


async def test_with_select_and_trailing_semicolon_and_comment_are_allowed(shop: Path) -> None:
    tool = sql_query(str(shop), working_directory=Path("/"))
    query = "-- cheapest\nWITH c AS (SELECT min(price) AS p FROM items) SELECT p FROM c;"

    result = await call(tool, query=query)

    assert result.result_type == "success"
    assert result.text_result_for_llm.endswith("| 1.0 |\n\n(1 row)")


async def test_rows_beyond_max_rows_are_cut_with_a_note(shop: Path) -> None:
    tool = sql_query("shop.db", working_directory=shop.parent, max_rows=2)

    result = await call(tool, query="SELECT id FROM items ORDER BY id")

    assert result.result_type == "success"
    assert result.text_result_for_llm == (
        "| id |\n| --- |\n| 1 |\n| 2 |\n\n(truncated: first 2 rows shown; there are more)"
    )


async def test_exactly_max_rows_is_not_truncated(shop: Path) -> None:
    tool = sql_query("shop.db", working_directory=shop.parent, max_rows=5)

    result = await call(tool, query="SELECT id FROM items")

    assert result.text_result_for_llm.endswith("(5 rows)")


async def test_output_stays_under_the_cli_inline_limit(shop: Path) -> None:
    tool = sql_query("shop.db", working_directory=shop.parent, max_rows=10_000)
    query = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
        " SELECT i, printf('%.200c', 'x') AS filler FROM n"
    )

    result = await call(tool, query=query)

    assert result.result_type == "success"
    assert len(result.text_result_for_llm.encode()) <= MAX_OUTPUT_BYTES
    assert "(truncated: first" in result.text_result_for_llm


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("INSERT INTO items VALUES (9, 'x', 1)", "starts with INSERT"),
        ("update items set price = 0", "starts with UPDATE"),
        ("DELETE FROM items", "starts with DELETE"),
        ("DROP TABLE items", "starts with DROP"),
        ("ATTACH DATABASE 'other.db' AS other", "starts with ATTACH"),
        ("PRAGMA writable_schema = ON", "starts with PRAGMA"),
        ("   ", "is empty"),
        ("SELECT 1; DROP TABLE items", "one statement at a time"),
        ("SELECT 1; INSERT INTO items VALUES (9, 'x', 1)", "one statement at a time"),
        # Starts like a read, but writes: the authorizer refuses it.
        ("WITH x AS (SELECT 1) DELETE FROM items", "not authorized"),
        ("WITH x AS (SELECT 1) INSERT INTO items SELECT 9, 'x', 1 FROM x", "not authorized"),
        ("SELECT * FROM pragma_table_info('items')", "not authorized"),
    ],
)
async def test_anything_but_one_select_is_refused_and_the_db_is_unchanged(
    shop: Path, query: str, reason: str
) -> None:
    before = digest(shop)
    tool = sql_query("shop.db", working_directory=shop.parent)

    result = await call(tool, query=query)

    assert result.result_type == "failure"
    assert result.text_result_for_llm.startswith("Refused: only one read-only SELECT")
    assert reason in result.text_result_for_llm
    assert result.error == result.text_result_for_llm
    assert digest(shop) == before
    assert sorted(p.name for p in shop.parent.iterdir()) == ["shop.db"]  # no journal, no attach


async def test_the_read_only_open_holds_even_without_the_authorizer(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("copilot_batch.tools._authorize", lambda *_: sqlite3.SQLITE_OK)
    before = digest(shop)
    tool = sql_query("shop.db", working_directory=shop.parent)

    result = await call(tool, query="WITH x AS (SELECT 1) DELETE FROM items")

    assert result.result_type == "failure"
    assert result.text_result_for_llm == "SQLite error: attempt to write a readonly database"
    assert digest(shop) == before


async def test_sql_errors_are_failures_that_name_the_problem(shop: Path) -> None:
    tool = sql_query("shop.db", working_directory=shop.parent)

    result = await call(tool, query="SELECT * FROM nowhere")

    assert result.result_type == "failure"
    assert result.text_result_for_llm == "SQLite error: no such table: nowhere"


async def test_a_runaway_query_is_stopped(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("copilot_batch.tools.QUERY_SECONDS", 0.2)
    tool = sql_query("shop.db", working_directory=shop.parent)
    query = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"

    result = await call(tool, query=query)

    assert result.result_type == "failure"
    assert "took longer than 0.2s" in result.text_result_for_llm


async def test_missing_arguments_are_reported_by_the_sdk(shop: Path) -> None:
    result = await call(sql_query("shop.db", working_directory=shop.parent))

    assert result.result_type == "failure"
    assert result.text_result_for_llm.startswith("Invalid tool arguments:")


def test_factory_rejects_a_missing_database(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"database .*missing\.db does not exist"):
        sql_query("missing.db", working_directory=tmp_path)


def test_factory_rejects_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not a database, just text " * 100)
    with pytest.raises(ValueError, match="is not a readable SQLite database"):
        sql_query("notes.db", working_directory=tmp_path)


@pytest.mark.parametrize("max_rows", [0, -1, True, "ten", 2.5])
def test_factory_rejects_bad_max_rows(shop: Path, max_rows: object) -> None:
    with pytest.raises(ValueError, match="max_rows must be a whole number of at least 1"):
        sql_query("shop.db", working_directory=shop.parent, max_rows=max_rows)  # type: ignore[arg-type]


# read_data


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data root with a JSON file, a YAML file in a sub-folder, and a secret beside it."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    document = {"tools": [{"name": "grep", "tags": ["search"]}, {"name": "sed"}], "a/b": 1}
    (root / "tools.json").write_text(json.dumps(document))
    (root / "sub" / "catalog.yaml").write_text(
        "store: Shop\nupdated: 2024-08-01\n"
        "zones:\n  - {zone: EU, days: 3}\n  - {zone: US, days: 7}\n"
    )
    (tmp_path / "secret.json").write_text('{"token": "hunter2"}')
    return root


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("tools.json", "tools[0].name", "grep"),
        ("tools.json", "/tools/0/name", "grep"),
        ("tools.json", "tools.1.name", "sed"),
        ("tools.json", "tools[-1]", {"name": "sed"}),
        ("tools.json", "tools[0].tags", ["search"]),
        ("tools.json", "/a~1b", 1),
        ("tools.json", '["a/b"]', 1),
        ("sub/catalog.yaml", "zones[1].days", 7),
        ("sub/catalog.yaml", "/zones/0", {"zone": "EU", "days": 3}),
        ("sub/catalog.yaml", "updated", "2024-08-01"),
        ("sub/../tools.json", "tools[1].name", "sed"),
    ],
)
async def test_read_data_returns_the_part_at_a_path_as_json(
    data: Path, path: str, query: str, expected: object
) -> None:
    tool = read_data(working_directory=data)
    assert tool.name == "read_data"

    result = await call(tool, path=path, query=query)

    assert result.result_type == "success", result.text_result_for_llm
    assert json.loads(result.text_result_for_llm) == expected


async def test_read_data_without_a_query_returns_the_whole_document(data: Path) -> None:
    result = await call(read_data(working_directory=data), path="sub/catalog.yaml")

    assert json.loads(result.text_result_for_llm)["store"] == "Shop"


async def test_root_option_resolves_against_the_working_directory(data: Path) -> None:
    tool = read_data(working_directory=data.parent, root="data/sub")

    result = await call(tool, path="catalog.yaml", query="store")

    assert result.text_result_for_llm == '"Shop"'


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("tools.json", "tools[0].nme", "No key 'nme' at tools[0]; keys there: name, tags."),
        ("tools.json", "/tools/5", "Index 5 is out of range at /tools (2 items)."),
        ("tools.json", "tools.name", "tools is a list; use an index, not 'name'."),
        ("tools.json", "tools[0].name.x", "tools[0].name is a string, not an object or a list"),
        ("tools.json", "tools..name", "Cannot parse the path 'tools..name' at character 6."),
        ("missing.json", "", "No file 'missing.json' in the data folder."),
        ("notes.txt", "", "Refused: 'notes.txt' is not a .json, .yaml or .yml file."),
    ],
)
async def test_read_data_errors_are_failures_with_a_clear_message(
    data: Path, path: str, query: str, message: str
) -> None:
    result = await call(read_data(working_directory=data), path=path, query=query)

    assert result.result_type == "failure"
    assert result.text_result_for_llm.startswith(message)


async def test_invalid_yaml_is_a_failure(data: Path) -> None:
    (data / "broken.yaml").write_text("a: [1, 2\n")

    result = await call(read_data(working_directory=data), path="broken.yaml")

    assert result.result_type == "failure"
    assert result.text_result_for_llm.startswith("Cannot read 'broken.yaml':")


@pytest.mark.parametrize("path", ["../secret.json", "sub/../../secret.json", "{absolute}"])
async def test_paths_outside_the_root_are_refused(data: Path, path: str) -> None:
    path = path.format(absolute=data.parent / "secret.json")

    result = await call(read_data(working_directory=data), path=path)

    assert result.result_type == "failure"
    assert result.text_result_for_llm == f"Refused: {path!r} is outside the data folder."
    assert "hunter2" not in result.text_result_for_llm


async def test_a_symlink_out_of_the_root_is_refused(data: Path) -> None:
    (data / "link.json").symlink_to(data.parent / "secret.json")
    (data / "linked-dir").symlink_to(data.parent, target_is_directory=True)
    tool = read_data(working_directory=data)

    for path in ("link.json", "linked-dir/secret.json"):
        result = await call(tool, path=path)
        assert result.result_type == "failure"
        assert result.text_result_for_llm == f"Refused: {path!r} is outside the data folder."


async def test_a_symlink_inside_the_root_is_followed(data: Path) -> None:
    (data / "alias.json").symlink_to(data / "tools.json")

    result = await call(read_data(working_directory=data), path="alias.json", query="/tools/1")

    assert json.loads(result.text_result_for_llm) == {"name": "sed"}


async def test_a_value_too_large_to_return_inline_is_refused(data: Path) -> None:
    (data / "big.json").write_text(json.dumps({"rows": ["x" * 100] * 500}))

    result = await call(read_data(working_directory=data), path="big.json")

    assert result.result_type == "failure"
    assert "query a smaller part" in result.text_result_for_llm


def test_read_data_factory_rejects_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"root .*nowhere is not a directory"):
        read_data(working_directory=tmp_path, root="nowhere")


# The example job's data


def test_example_shop_database_is_built_from_its_sql_source(tmp_path: Path) -> None:
    folder = REPOSITORY / "jobs" / "data"
    with closing(sqlite3.connect(":memory:")) as rebuilt:
        rebuilt.executescript((folder / "shop.sql").read_text())
        expected = list(rebuilt.iterdump())
    with closing(sqlite3.connect(f"{(folder / 'shop.db').as_uri()}?mode=ro", uri=True)) as db:
        assert list(db.iterdump()) == expected


async def test_example_replay_script_holds_what_the_tools_return() -> None:
    """jobs/scripts/shop-report.yaml replays tool results; they must be the tools' real output."""
    jobs = REPOSITORY / "jobs"
    job = yaml.safe_load((jobs / "shop-report.yaml").read_text())
    script = yaml.safe_load((jobs / "scripts" / "shop-report.yaml").read_text())
    factories: dict[str, Callable[..., Tool]] = {
        "copilot_batch.tools:sql_query": sql_query,
        "copilot_batch.tools:read_data": read_data,
    }
    folder = jobs / job["defaults"]["working_directory"]
    checked = 0
    for task, conversation in zip(job["tasks"], script["conversations"], strict=True):
        messages = conversation["messages"]
        assert messages[1]["content"] == task["prompt"]
        entry = task["tools"]["custom"][0]
        use, options = (entry, {}) if isinstance(entry, str) else (entry["use"], entry["with"])
        tool = factories[use](working_directory=folder, **options)
        for call_message, result_message in itertools.pairwise(messages):
            for tool_call in call_message.get("tool_calls", ()):
                assert tool_call["function"]["name"] == tool.name
                arguments = json.loads(tool_call["function"]["arguments"])
                result = await call(tool, **arguments)
                assert result.result_type == "success"
                assert result_message["content"] == result.text_result_for_llm
                checked += 1
    assert checked == 2
