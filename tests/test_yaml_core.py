"""Definitions are read with YAML 1.2 core-schema rules, not PyYAML's YAML 1.1 ones."""

from __future__ import annotations

import math

import pytest

from reportkit.language.yamldoc import YamlProblem, read_yaml


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("OFF", "OFF"),
        ("y", "y"),
        ("190:20:30", "190:20:30"),  # YAML 1.1: 685230, a sexagesimal number
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("2026-11-01", "2026-11-01"),
        ("true", True),
        ("FALSE", False),
        ("010", 10),  # YAML 1.1: 8, octal
        ("0o17", 15),
        ("0x1F", 31),
        ("-5", -5),
        ("+7", 7),
        ("1.0", 1.0),
        ("1e3", 1000.0),
        ("-.inf", -math.inf),
        ("~", None),
        ("null", None),
        ("", None),
        ('"true"', "true"),
        ("'12'", "12"),
    ],
)
def test_plain_values_follow_the_core_schema(written: str, read: object) -> None:
    value = read_yaml(f"value: {written}\n").data["value"]
    assert value == read and type(value) is type(read)


def test_nan_is_a_float() -> None:
    assert math.isnan(read_yaml("value: .nan\n").data["value"])


def test_an_explicit_tag_that_does_not_fit_is_refused_where_it_stands() -> None:
    with pytest.raises(YamlProblem) as caught:
        read_yaml("a: 1\nvalue: !!bool maybe\n")
    assert (caught.value.line, caught.value.column) == (2, 8)


def test_merge_keys_still_merge() -> None:
    data = read_yaml("base: &b {x: 1}\nmine:\n  <<: *b\n  y: on\n").data
    assert data["mine"] == {"x": 1, "y": "on"}
