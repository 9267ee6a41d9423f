"""The benchmark's measuring and comparing (bench/), on real processes where it measures."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import pytest

from bench import cli_aging, profile_areas, scale, startup
from bench.compare import compare, markdown
from bench.measure import (
    CLOCK_TICKS,
    descendants,
    lower_bound,
    measure,
    parse_stat,
    rss_bytes,
)
from bench.session_cpu import (
    ok_tasks,
    own_and_children_cpu,
    parse_trees,
    run_measured,
    summarise,
)


def test_parse_stat_counts_fields_after_the_last_parenthesis() -> None:
    # The command name may hold spaces and parentheses of its own.
    stat = f"4242 (a (weird) name) S 17 4242 {' '.join(['0'] * 8)} 150 50 30 20 20 0"
    parent, cpu = parse_stat(stat)
    assert parent == 17
    assert cpu == pytest.approx(250 / CLOCK_TICKS)


def test_parse_stat_of_this_process() -> None:
    parent, _ = parse_stat(Path(f"/proc/{os.getpid()}/stat").read_text())
    assert parent == os.getppid()


def test_descendants_walk_the_whole_tree_and_nothing_else() -> None:
    parents = {2: 1, 3: 2, 4: 2, 5: 3, 6: 1, 7: 99}
    assert sorted(descendants(2, parents)) == [2, 3, 4, 5]
    assert descendants(5, parents) == [5]


def test_lower_bound_is_latency_rounds_or_cpu_work_whichever_is_longer() -> None:
    assert lower_bound(100, 50, 2.0, 0.01, 2) == 4.0
    assert lower_bound(100, 50, 2.0, 0.2, 2) == pytest.approx(10.0)
    assert lower_bound(101, 50, 2.0, 0.0, 2) == 6.0


def test_measure_counts_cpu_and_memory_of_grandchildren(tmp_path: Path) -> None:
    """A shell whose grandchild burns CPU and holds 200 MiB: both are the tree's."""
    burn = (
        "import time; block = bytearray(200 * 1024 * 1024); end = time.process_time() + 0.5\n"
        "while time.process_time() < end: block[::4096] = b'x' * len(block[::4096])\n"
    )
    command = ["sh", "-c", f'sh -c \'"{sys.executable}" -c "$0"\' "{burn}"; echo done']
    measured = measure(command, env=os.environ, cwd=tmp_path, stdout=tmp_path / "out.txt")
    assert measured.returncode == 0
    assert (tmp_path / "out.txt").read_text() == "done\n"
    assert measured.cpu_seconds >= 0.45
    assert measured.peaks.rss_bytes >= 200 * 1024 * 1024
    assert measured.peaks.processes >= 3


def _row(way: str, wall: float, cpu: float, rss: int) -> dict[str, object]:
    return {
        "way": way, "tasks": 100, "wall_seconds": wall, "cpu_seconds": cpu,
        "system_seconds": 1.0, "peak_rss_mib": rss, "peak_pss_mib": rss // 2,
        "peak_processes": 3, "tasks_per_second": round(100 / wall, 2), "failed": 0,
    }  # fmt: skip


def test_compare_reports_ratios_to_copilot_batch_and_the_targets() -> None:
    rows = [_row("batch", 10.0, 15.0, 1000), _row("sdk", 25.0, 60.0, 600)]
    rows.append(_row("shell", 45.0, 120.0, 5000))
    result = compare(rows, bound=5.0)
    assert result["ratios"]["sdk"]["speedup"] == 2.5
    assert result["ratios"]["shell"]["batch_rss_share"] == 0.2
    assert result["targets"] == {
        "within_1.5x_of_lower_bound": False,
        "2x_faster_than_sdk": True,
        "4x_faster_than_shell": True,
        "under_quarter_of_shell_memory": True,
    }
    table = markdown(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[2].startswith("| batch | 100 | 10.0 | 15.0 |")


def test_startup_ratios_are_against_the_sdks_import() -> None:
    rows = startup.summary(
        {
            startup.BASELINE: [1.0, 1.2, 0.9],
            "copilot-batch --help": [0.3, 0.5, 0.35],
            "copilot-batch validate": [0.45, 0.4, 0.5],
        }
    )
    assert rows == [
        {"command": startup.BASELINE, "median_seconds": 1.0},
        {
            "command": "copilot-batch --help",
            "median_seconds": 0.35,
            "ratio": 0.35,
            "target_met": True,
        },
        {
            "command": "copilot-batch validate",
            "median_seconds": 0.45,
            "ratio": 0.45,
            "target_met": False,
        },
    ]
    assert "| `copilot-batch validate` | 0.45 | 0.45 | not met |" in startup.markdown(rows)


def test_own_cpu_and_the_childrens_come_from_their_own_fields() -> None:
    stat = f"4242 (py (thon)) Z 17 4242 {' '.join(['0'] * 8)} 150 50 30 20 20 0"
    assert own_and_children_cpu(stat) == pytest.approx((200 / CLOCK_TICKS, 50 / CLOCK_TICKS))


def test_run_measured_counts_the_process_apart_from_the_children_it_reaped(
    tmp_path: Path,
) -> None:
    """A child that burns CPU and is waited for is not the process's own CPU."""
    burn = "import time\nend = time.process_time() + {}\nwhile time.process_time() < end: pass\n"
    parent = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {burn.format(0.6)!r}], check=True)\n"
        + burn.format(0.2)
    )
    command = [sys.executable, "-c", parent]
    measured = run_measured(command, env=os.environ, cwd=tmp_path, output=tmp_path / "out.txt")
    assert measured.returncode == 0
    assert measured.children_seconds >= 0.55
    assert 0.15 <= measured.own_seconds < measured.children_seconds
    # The zombie's fields and wait4's rusage tell the same total.
    total = measured.own_seconds + measured.children_seconds
    assert total == pytest.approx(measured.rusage_seconds, abs=0.05)


def _cpu_row(tree: str, tasks: int, cpu: float) -> dict[str, object]:
    return {"tree": tree, "tasks": tasks, "own_cpu_seconds": cpu}


def test_session_cpu_summary_takes_medians_the_marginal_and_the_target() -> None:
    rows = [
        _cpu_row("before", 100, 5.0), _cpu_row("before", 100, 4.0), _cpu_row("before", 100, 9.0),
        _cpu_row("before", 400, 14.0), _cpu_row("before", 400, 16.0), _cpu_row("before", 400, 15.0),
        _cpu_row("after", 100, 2.5), _cpu_row("after", 400, 5.6),
    ]  # fmt: skip
    summary = summarise(rows)
    assert list(summary) == ["before", "after"]
    before, after = summary["before"], summary["after"]
    assert before["median_cpu_seconds"] == {"100": 5.0, "400": 15.0}
    assert before["cpu_per_session_ms"] == {"100": 50.0, "400": 37.5}
    assert before["marginal_ms"] == pytest.approx(33.33)
    assert before["target"] == {
        "tasks": 400, "cpu_per_session_ms": 37.5, "target_ms": 15.0, "ratio": 2.5, "met": False,
    }  # fmt: skip
    assert after["target"]["met"] and after["target"]["ratio"] == pytest.approx(0.93)
    assert "marginal_ms" not in summarise([_cpu_row("one", 400, 4.0)])["one"]


def test_trees_are_named_paths() -> None:
    assert parse_trees(["before=/work/main", "after=."]) == {
        "before": Path("/work/main"),
        "after": Path.cwd(),
    }
    assert list(parse_trees([])) == ["this"]
    with pytest.raises(click.BadParameter, match="NAME=PATH"):
        parse_trees(["/work/main"])


def test_profile_samples_go_to_the_innermost_area() -> None:
    collapsed = [
        "main (copilot_batch/cli.py:1);_find_and_load (<frozen importlib._bootstrap>:1) 7",
        "_read_loop (copilot/_jsonrpc.py:4);handle_notification (copilot/client.py:5);"
        "from_datetime (copilot/generated/session_events.py:95);parse (dateutil/parser.py:9) 5",
        "_read_loop (copilot/_jsonrpc.py:4);loads (json/__init__.py:3) 4",
        "_dispatch_event (copilot/session.py:1);_SessionObserver.__call__ "
        "(copilot_batch/runtime/session.py:95);SessionEvent.to_dict "
        "(copilot/generated/session_events.py:9) 3",
        "run (copilot_batch/run_folder/events.py:80);text (copilot_batch/redact.py:40) 2",
        "_run_once (asyncio/base_events.py:1) 2",
        "main (copilot_batch/cli.py:1);helper (copilot_batch/other.py:1) 1",
        "garbage line",
    ]
    totals = profile_areas.areas(collapsed)
    assert totals == {
        "imports and start-up": 7,
        "SDK: timestamp parsing (dateutil)": 5,
        "SDK: JSON-RPC reading and writing": 4,
        "ours: event to_dict": 3,
        "ours: redaction": 2,
        "anyio/asyncio": 2,
        "ours: other": 1,
    }
    table = profile_areas.table(totals).splitlines()
    assert table[2] == "| imports and start-up | 7 | 29.2% |"
    assert table[-1] == "| total | 24 | 100% |"
    assert profile_areas.causes(collapsed) == {
        "imports": 7,
        "a session event (parse, dispatch, observe, queue)": 3,
        "the SDK's reader thread": 9,
        "other": 5,
    }
    functions = profile_areas.functions(collapsed)
    assert functions["_read_loop (copilot/_jsonrpc.py)"] == 9
    assert functions["main (copilot_batch/cli.py)"] == 8


def _window(sessions: int, rss: float, cpu: float) -> cli_aging.Window:
    return cli_aging.Window(sessions, rss, rss / 2, cpu, wall_seconds=5.0, load_average=1.0)


def test_cli_aging_growth_compares_the_first_window_with_the_last() -> None:
    # A jump while the CLI warms up, then 5 MiB per 100 sessions.
    windows = [_window(100 * n, 300 if n == 1 else 350 + 5 * n, 50 + n) for n in range(1, 11)]
    assert cli_aging.growth(windows) == {
        "rss_mib_first": 300,
        "rss_mib_last": 400,
        # From 600 sessions (the middle window) to 1,000, past the warm-up: 20 MiB over 400.
        "rss_mib_per_100_sessions_late": 5.0,
        "cpu_ms_per_session_first": 51,
        "cpu_ms_per_session_last": 60,
        "cpu_last_over_first": 1.18,
    }


def test_cli_aging_against_fresh_sums_cpu_over_rounds_and_compares_the_last_memory() -> None:
    pairs = [
        (_window(-1, 500, 120), _window(200, 400, 100)),
        (_window(-1, 510, 80), _window(300, 425, 100)),
    ]
    assert cli_aging.against_fresh(pairs) == {
        "cpu_aged_over_fresh": 1.0,
        "rss_aged_over_fresh": 1.2,
    }


def test_cli_aging_reads_anonymous_memory_of_this_process() -> None:
    # This process's heap is anonymous memory, part of all it holds.
    assert 0 < cli_aging.anon_bytes(os.getpid()) <= rss_bytes(os.getpid())
    assert cli_aging.anon_bytes(2**22 + 1) == 0  # no such process


def _sample(ended: int, rss: float) -> scale.RootSample:
    return scale.RootSample(seconds=float(ended), ended=ended, rss_mib=rss, cpu_seconds=0.0)


def test_scale_python_rss_is_read_where_each_share_of_the_tasks_had_ended() -> None:
    samples = [_sample(0, 90), _sample(400, 100), _sample(520, 101), _sample(1000, 104)]
    samples += [_sample(1600, 106), _sample(2000, 108)]
    at = scale.rss_at_shares(samples, 2000)
    assert at == {"500": 101, "1000": 104, "1500": 106, "2000": 108}
    assert scale.flat(at) is True  # 108 ≤ 101 × 1.1
    assert scale.flat({"500": 100, "2000": 111}) is False
    assert scale.flat(scale.rss_at_shares(samples[:3], 2000)) is None  # never ended them all


def test_scale_targets_give_each_measure_its_ratio_to_the_target() -> None:
    row = {"wall_seconds": 120.0, "failed": 0, "peak_rss_mib": 2800, "peak_pss_mib": 2000}
    row["python_rss_mib"] = {"500": 150, "2000": 151}
    targets = scale.targets(row, bound=100.0)
    assert targets["failed_tasks"] == {"measured": 0, "met": True}
    assert targets["peak_tree_memory"]["share_of_2.5_gib"] == 1.09  # RSS, the stricter
    assert targets["peak_tree_memory"]["met"] is False
    assert targets["python_rss_flat"]["met"] is True
    assert targets["wall_over_bound"] == {"measured": 1.2, "share_of_1.5": 0.8, "met": True}


def test_scale_reads_a_process_own_cpu_without_its_childrens() -> None:
    assert scale.own_cpu_seconds(os.getpid()) > 0
    assert scale.own_cpu_seconds(2**22 + 1) == 0.0  # no such process


def test_ok_tasks_come_from_run_json_or_the_plain_scripts_last_line(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "20261202-000000-abcd"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"totals": {"ok": 398, "failed": 2}}))
    assert ok_tasks(tmp_path, plain_sdk=False) == 398
    (tmp_path / "output.txt").write_text('a warning\n{"ok": 399, "failed": 1}\n')
    assert ok_tasks(tmp_path, plain_sdk=True) == 399
    (tmp_path / "output.txt").write_text("")
    assert ok_tasks(tmp_path, plain_sdk=True) == 0
