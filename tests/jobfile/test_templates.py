"""Templates: the sandbox holds, and no template can run long or fill memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot_batch import JobFilesInvalid, load_jobs
from copilot_batch.jobfile import templates
from copilot_batch.jobfile.templates import Templates


def render(source: str, **values: object) -> str:
    return Templates().render(source, values)


def refusal(source: str, **values: object) -> str:
    with pytest.raises(ValueError) as refused:
        render(source, **values)
    return str(refused.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 9**(9**9) }}", "** would make an integer of more than 4,300 digits"),
        ("{{ (10**4000) * (10**4000) }}", "* would make an integer of more than 4,300 digits"),
        ("{{ 'x' * 10**9 }}", "* would make 1,000,000,000 characters or items"),
        ("{{ [1] * 10**9 }}", "* would make 1,000,000,000 characters or items"),
        ("{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
         "{% endfor %}", "~ would make 1,048,576 characters or items"),
        ("{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
         "{% endfor %}", "+ would make 1,048,576 characters or items"),
        ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
         "range() made more than 100,000 items"),
        ("{% for i in range(1000) %}{% for j in 'x' * 1000 %}{% endfor %}{% endfor %}",
         "loops ran more than 100,000 times"),
        ("{{ range(2**62) }}", "range() made more than 100,000 items"),
        ("{{ lipsum(10**6) }}", "lipsum() makes at most 100 paragraphs of at most 1,000 words"),
        ("{{ 'x'|center(10**9) }}", "center would make 1,000,000,000 characters or items"),
        ("{{ 'x\nx'|indent(10**6) }}", "indent would make 2,000,003 characters or items"),
        ("{{ 'x'.ljust(10**9) }}", "ljust would make 1,000,000,000 characters or items"),
        ("{{ 'a\tb'.expandtabs(10**9) }}", "expandtabs would make 1,000,000,003 characters"),
        ("{{ '%999999999s' % 'x' }}", "% would make 999,999,999 characters or items"),
        ("{{ '%*s' % (999999999, 'x') }}", "% would make 999,999,999 characters or items"),
        ("{{ '%999999999d'|format(1) }}", "% would make 999,999,999 characters or items"),
        ("{{ '{:>999999999}'.format('x') }}", "format() would make 999,999,999 characters"),
        ("{{ '{0:{1}}'.format('x', 999999999) }}", "format() would make 1,000,000,000 characters"),
        ("{{ range(10)|slice(10**9)|list }}", "slice would make 1,000,000,000 characters"),
        ("{{ [1]|batch(10**9, 0)|list }}", "batch would make 1,000,000,000 characters or items"),
        ("{{ {'a': 1}|tojson(indent=999999999) }}", "tojson indents by at most 64"),
        ("{{ ('x ' * 1000)|wordwrap(1, wrapstring='y' * 10**6) }}", "wordwrap would make"),
        ("{{ ('x' * 100000).replace('', 'y' * 100000) }}", "replace would make 10,000,200,000"),
        ("{{ range(100000)|join('x' * 1000000) }}", "join would make 100,000,000,000 characters"),
        ("{{ ('x' * 1000).join(range(100000)|list) }}", "join would make"),
        ("{% for i in range(100000) %}{{ i|string }}{% endfor %}", "more than 100,000 calls"),
        ("{% for i in range(20) %}{{ 'x' * 99999 }}{% endfor %}",
         "the output is longer than 1,000,000 characters"),
    ],
)  # fmt: skip
def test_a_template_over_a_limit_fails_before_it_costs_much(source: str, expected: str) -> None:
    message = refusal(source)
    assert message.startswith("template error: SecurityError: over a template limit: ")
    assert expected in message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ ''.__class__ }}", "SecurityError: access to attribute '__class__' of 'str'"),
        ("{{ cycler.__init__.__globals__ }}", "SecurityError: access to attribute '__init__'"),
        ("{{ repo.update({'x': 1}) }}", "SecurityError: access to attribute 'update' of 'dict'"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
        ("{% include 'other' %}", "TypeError: no loader for this environment specified"),
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
    ],
)
def test_the_sandbox_still_holds(source: str, expected: str) -> None:
    repo = {"name": "api"}
    assert expected in refusal(source, repo=repo)
    assert repo == {"name": "api"}  # a template cannot change the values it is given


@pytest.mark.parametrize(
    "source",
    ["{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "{{ " + "9" * 5000 + " }}"],
    ids=["nested", "long-literal"],
)
def test_a_template_python_cannot_compile_is_a_syntax_error(source: str) -> None:
    problem = Templates().problem(source)
    assert problem is not None and problem.startswith("template syntax error: ")


def test_templates_within_the_limits_render_as_before() -> None:
    source = (
        "{% for lang in langs %}{{ loop.index }}:{{ lang|upper }}{% if not loop.last %}, "
        "{% endif %}{% endfor %} {{ 'x' * 3 }} {{ 2**10 }} {{ '%05.1f' % 3.14159 }} "
        "{{ '{:>4}'.format(n) }} {{ range(3)|join('-') }} {{ 'a b'.replace(' ', '_') }} "
        "{{ lipsum(2, false)|length > 0 }} {{ [1, 2] + [3] }} {{ 'ab' ~ 'cd' }}"
    )
    assert render(source, langs=["go", "ts"], n=7) == (
        "1:GO, 2:TS xxx 1024 003.1    7 0-1-2 a_b True [1, 2, 3] abcd"
    )


def test_a_job_file_renders_a_limited_text_in_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "MAX_JOB_TEXT", 10)
    renderer = Templates()
    assert renderer.render("{{ 'x' * 6 }}", {}) == "xxxxxx"
    with pytest.raises(ValueError, match="render more than 10 characters in all"):
        renderer.render("{{ 'y' * 6 }}", {})


def test_a_template_error_is_reported_at_its_key(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\nmatrix: {n: [1, 2]}\n"
        "tasks: [{id: 't{{ n }}', prompt: \"{{ 'x' * 10**9 }}\"}]\n"
    )
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([job], environ={})
    assert [str(error) for error in caught.value.errors] == [
        f"{job}:3:34: $.tasks[0].prompt: template error: SecurityError: over a template limit: "
        "* would make 1,000,000,000 characters or items, more than 1,000,000"
    ]
