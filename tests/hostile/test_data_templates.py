"""Templates written in definitions (subjects, bodies): bounded work, one line when refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.deliver.email import _one_line, render_text
from reportkit.errors import DeliveryError
from reportkit.render.sandbox import MAX_RANGE, MAX_STEPS, MAX_TEXT

CONTEXT = {"report": {"title": "Weekly"}, "n": 3}

# (template, what the one-line error names): each asks for gigabytes or billions of steps
GREEDY = [
    ('{{ ("x" * 500000000)|length }}', "the * operator"),
    ('{{ (500000000 * "x")|length }}', "the * operator"),
    ("{{ ([1] * 1000000000)|length }}", "the * operator"),
    ('{{ ("x" * 99999 + "y" * 99999)|length }}', "the + operator"),
    ('{{ ("%1000000000s" % 1)|length }}', "the % operator"),
    ('{{ ("%*s" % (1000000000, 1))|length }}', "the % operator"),
    ("{{ (2 ** 100000000) > 1 }}", "the ** operator"),
    ('{{ "x"|center(1000000000) }}', "filter center"),
    ('{{ "x"|indent(1000000000) }}', "filter indent"),
    ('{{ "x".ljust(1000000000)|length }}', "ljust"),
    ('{{ "x".zfill(1000000000)|length }}', "zfill"),
    ('{{ "{:>1000000000}".format(1)|length }}', "format"),
    ('{{ ("\t" * 99999).expandtabs(99999)|length }}', "expandtabs"),
    ('{{ ("x" * 90000)|replace("x", "x" * 90000)|length }}', "filter replace"),
    ('{{ ("x" * 90000).replace("x", "x" * 90000)|length }}', "replace"),
    ('{{ range(10000)|join("x" * 99999)|length }}', "filter join"),
    ('{{ ("x" * 99999).join(range(10000)|map("string"))|length }}', "join"),
    (
        '{% set ns = namespace(s="x") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}'
        "{% endfor %}{{ ns.s|length }}",
        "the ~ operator",
    ),
    (
        "{% macro twice(s) %}{{ s }}{{ s }}{% endmacro %}"
        '{{ twice(twice(twice(twice(twice("x" * 50000)))))|length }}',
        "a block of the template",
    ),
    ("{% for i in range(100000) %}{% endfor %}", f"limit {MAX_RANGE:,}"),
    ("{% for i in range(10**12) %}{% endfor %}", "range of"),
    (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        f"more than {MAX_STEPS:,} steps",
    ),
    (
        '{% for c in "x" * 9999 %}{% for d in "y" * 9999 %}{{ "" }}{% endfor %}{% endfor %}',
        f"more than {MAX_STEPS:,} steps",
    ),
    ('{{ "x" * 99999 }}{{ "x" * 99999 }}', f"longer than {MAX_TEXT:,} characters"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("template", "named"), GREEDY)
@pytest.mark.parametrize("what", ["subject", "body"])
def test_a_greedy_template_fails_in_one_line(template: str, named: str, what: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        render_text(template, CONTEXT, what)
    message = str(caught.value)
    assert message.startswith(f"deliver.email.{what}: ")
    assert named in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ report.title }}: {{ n|number }} orders", "Weekly: 3 orders"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ('{{ ["a", "b"]|join(", ") }} {{ ", ".join(["c", "d"]) }}', "a, b c, d"),
        ('{{ "a,b"|replace(",", " ") }} {{ "x"|center(5) }}|', "a b   x  |"),
        ('{{ "x" * 1000 == "x" * 1000 }} {{ 2 ** 10 }}', "True 1024"),
        ('{{ "%5s" % "ab" }}|{{ "{:>4}".format(7) }}', "   ab|   7"),
        ('{{ ("x" * (MAX - 1))|length }}'.replace("MAX", str(MAX_TEXT)), str(MAX_TEXT - 1)),
    ],
)
def test_ordinary_templates_still_render(template: str, expected: str) -> None:
    assert render_text(template, CONTEXT, "subject") == expected


BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", BREAKS)
def test_every_line_break_python_knows_is_refused_in_a_header(char: str) -> None:
    with pytest.raises(DeliveryError, match=r"^the subject holds a line break"):
        _one_line(f"Weekly{char}Bcc: x@example.com", "subject")
    with pytest.raises(DeliveryError):
        _one_line(f"Weekly{char}", "subject")


@pytest.mark.parametrize("char", [*BREAKS, "\x00", "\x1b", "\x7f"])
def test_validate_refuses_a_subject_with_a_line_break_at_its_place(
    tmp_path: Path, char: str
) -> None:
    path = tmp_path / "r.yaml"
    subject = json.dumps("Weekly " + char + " {{ report.title }}")
    path.write_text(
        "version: 1\ntitle: t\nqueries:\n  - {id: q, event: Charged, kind: count}\n"
        f"deliver:\n  email:\n    to: [a@example.com]\n    subject: {subject}\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:8:5: deliver.email.subject: holds U+{ord(char):04X}")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("char", BREAKS)
def test_values_with_line_breaks_fold_into_a_one_line_subject(char: str) -> None:
    subject = render_text("{{ report.title }}", {"report": {"title": f"a{char}b"}}, "subject")
    assert _one_line(subject, "subject") == subject
