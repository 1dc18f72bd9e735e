"""The YAML loader: libyaml speed and size limits, the safe-loading rules, positions.

Every rule is checked on libyaml's parser and on PyYAML's pure-Python fallback (``pure``),
which must behave the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.loading import many_owners
from engine import yamlbuild
from engine.errors import LoadError
from engine.yamldoc import LIBYAML, MAX_DEPTH, YamlDocument, load_yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[False, True], ids=["libyaml", "python"])
def pure(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def load(text: str, pure: bool = False) -> YamlDocument:
    return load_yaml(textwrap.dedent(text), "doc.yaml", pure=pure)


def refused(text: str, pure: bool = False) -> LoadError:
    with pytest.raises(LoadError) as info:
        load(text, pure)
    assert info.value.file == "doc.yaml"
    return info.value


def test_libyaml_is_the_parser_here() -> None:
    assert LIBYAML


# --- the reproducers ------------------------------------------------------------

LOAD_AND_MEASURE = """
import resource, sys
from engine.loader import load_scenario
scenario = load_scenario(sys.argv[1])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(len(scenario.owners), usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime)
"""


@pytest.mark.parametrize("megabytes", [
    2, pytest.param(9.8, marks=pytest.mark.slow)], ids=["2MB", "9.8MB"])
def test_a_large_scenario_without_aliases_loads_in_seconds_and_bounded_memory(
        tmp_path: Path, megabytes: float) -> None:
    # Before libyaml: 14 s and 201 MB for 2 MB; 135 s and 634 MB for 9.8 MB, and then
    # "found an alias expansion bomb" although the file has no aliases.
    scenario = many_owners(tmp_path / "big", int(megabytes * 1024 * 1024))
    out = subprocess.run([sys.executable, "-c", LOAD_AND_MEASURE, str(scenario)], cwd=ROOT,
                         capture_output=True, text=True, timeout=45)
    assert out.returncode == 0, out.stderr[-2000:]
    owners, rss_mb, cpu = out.stdout.split()
    assert int(owners) > 20_000 * megabytes / 2
    assert int(rss_mb) < 500
    # Issue 23: within 10 s. CPU time, as the wall time of a shared machine is its load's
    # (the 9.8 MB file: about 5.5 s of CPU, 10 s of wall time at a load of 12 on 2 cores).
    assert float(cpu) < 10, f"{float(cpu):.1f} s of CPU"


def test_deep_nesting_is_refused_at_its_line(pure: bool) -> None:
    # 10 KB of nested lists: it took 5-13 s to refuse, without a line number.
    err = refused("a: 1\nb: " + "[" * 10_000 + "]" * 10_000 + "\n", pure)
    assert err.line == 2 and err.column is not None
    assert f"nested at most {MAX_DEPTH} levels deep (found deeper nesting)" in str(err)
    err = refused("a: 1\nb: " + "[" * 500 + "]" * 500 + "\n", pure)
    assert (err.line, err.column) == (2, 3 + MAX_DEPTH)
    assert len(str(err)) < 200


def test_deep_block_nesting_is_refused_at_its_line(pure: bool) -> None:
    text = "".join(" " * i + "k:\n" for i in range(2 * MAX_DEPTH))
    err = refused(text, pure)
    assert (err.line, err.column) == (MAX_DEPTH + 1, MAX_DEPTH + 1)
    assert err.path.startswith("k.k.k") and "..." in err.path


def test_nesting_up_to_the_limit_loads(pure: bool) -> None:
    depth = MAX_DEPTH - 1
    doc = load("a: " + "[" * depth + "]" * depth + "\n", pure)
    value = doc.data["a"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_many_values_without_aliases_are_no_alias_bomb(
        pure: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if pure:  # the same rule, on a smaller bound: the Python parser is 20 times slower
        monkeypatch.setattr(yamlbuild, "MAX_EXPANDED_NODES", 1000)
    count = yamlbuild.MAX_EXPANDED_NODES + 10
    doc = load("values: [" + ", ".join(["1"] * count) + "]\n", pure)
    assert len(doc.data["values"]) == count
    assert doc.positions[("values", count - 1)] == (1, 10 + 3 * (count - 1))


def test_duplicate_keys_name_both_places(pure: bool) -> None:
    err = refused("""\
        name: a
        other: 1
        name: b
        """, pure)
    assert (err.line, err.column, err.path) == (3, 1, "name")
    assert "duplicate key 'name', first at line 1, column 1" in str(err)


# --- the safe-loading rules -------------------------------------------------------------

def test_billion_laughs_is_refused_where_the_bound_is_crossed(pure: bool) -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    err = refused("\n".join(lines) + "\n", pure)
    assert "alias expansion bomb" in str(err)
    assert err.line == 6 and err.path.startswith("f[")


def test_aliases_under_the_bound_expand_to_independent_copies(pure: bool) -> None:
    doc = load("""\
        base: &b {tools: [a, b], limit: 3}
        one: *b
        two: *b
        """, pure)
    assert doc.data["one"] == doc.data["two"] == {"tools": ["a", "b"], "limit": 3}
    doc.data["one"]["tools"].append("c")
    assert doc.data["two"]["tools"] == ["a", "b"]
    # Inside the copy, positions are the anchored text's; the alias itself is where it is.
    assert doc.positions[("two",)] == (3, 6)
    assert doc.positions[("two", "tools", 1)] == (1, 22)
    assert doc.key_positions[("two", "limit")] == (1, 26)


def test_positions_inside_aliases_of_aliases_lead_to_the_anchored_text(pure: bool) -> None:
    doc = load("""\
        a: &a {x: [1, 2]}
        b: &b {inner: *a, y: 3}
        c: [*b]
        """, pure)
    assert doc.data["c"] == [{"inner": {"x": [1, 2]}, "y": 3}]
    assert doc.positions[("c", 0)] == (3, 5)
    assert doc.positions[("c", 0, "inner")] == (2, 15)
    assert doc.positions[("c", 0, "inner", "x", 1)] == (1, 15)
    assert doc.key_positions[("c", 0, "y")] == (2, 19)
    assert ("c", 0, "inner", "x", 2) not in doc.positions


def test_recursive_and_undefined_aliases_are_refused(pure: bool) -> None:
    err = refused("a: &a [1, *a]\n", pure)
    assert "an alias that contains itself" in str(err) and err.line == 1
    err = refused("a: 1\nb: *nowhere\n", pure)
    assert "undefined alias *nowhere" in str(err) and (err.line, err.column) == (2, 4)


def test_an_alias_cannot_nest_past_the_depth_limit(pure: bool) -> None:
    half = MAX_DEPTH // 2 + 1
    err = refused(f"a: &a {'[' * half}{']' * half}\nb: {'[' * half}*a{']' * half}\n", pure)
    assert err.line == 2 and "nested at most" in str(err)


@pytest.mark.parametrize("text", [
    "name: !!python/object/apply:os.system [echo hacked]\n",
    "name: !!python/name:os.system ''\n",
    "name: !custom {a: 1}\n",
    "name: !!set {a, b}\n",
    "name: !!omap [a: 1]\n",
])
def test_tags_that_construct_objects_are_refused(text: str, pure: bool) -> None:
    err = refused(text, pure)
    assert "no custom tags" in str(err)
    assert (err.line, err.column, err.path) == (1, 7, "name")


@pytest.mark.parametrize(("text", "value"), [
    ("yes", "yes"), ("on", "on"), ("No", "No"), ("true", True), ("FALSE", False),
    ("~", None), ("null", None), ("", None), ("12", 12), ("-3", -3), ("1_000", 1000),
    ("0o17", 15), ("0x1f", 31), ("0b101", 5), ("1.5", 1.5), ("1e3", 1000.0),
    (".inf", float("inf")), ("-.inf", float("-inf")), ("2024-01-01", "2024-01-01"),
    ("12:30", "12:30"), ("'12'", "12"), ('"true"', "true"), ("!!str 5", "5"),
    ("! 5", "5"), ("!!int '7'", 7), ("!!float 1", 1.0), ("!!bool yes", True),
    ("!!null ''", None), ("=", "="), ("<<", "<<"), ("8h", "8h"), ("tools", "tools"),
])
def test_plain_scalars_mean_what_yaml_1_2_says(text: str, value: Any, pure: bool) -> None:
    assert load(f"v: {text}\n", pure).data["v"] == value


def test_a_scalar_its_tag_does_not_allow_is_refused(pure: bool) -> None:
    err = refused("a: 1\nv: !!int twelve\n", pure)
    assert (err.line, err.column, err.path) == (2, 4, "v")
    assert "an integer" in str(err) and "'twelve'" in str(err)


def test_long_values_are_cut_in_messages(pure: bool) -> None:
    long = "x" * 100_000
    for text in [f"v: !!int {long}\n", f"? {long}\n: 1\n? {long}\n: 2\n", f"v: *{long}\n",
                 f"v: !{long} 1\n"]:
        err = refused(text, pure)
        assert len(str(err)) < 300 and "..." in str(err), str(err)[:300]


def test_keys_are_strings(pure: bool) -> None:
    assert load("200: ok\n", pure).data == {"200": "ok"}
    for text, found in [("~: x\n", "null"), ("true: x\n", "boolean true"),
                        ("1.5: x\n", "number 1.5"), ("[a]: x\n", "a complex key"),
                        ("? {a: 1}\n: x\n", "a complex key")]:
        err = refused(text, pure)
        assert err.line == 1 and found in str(err), text


def test_merged_keys_give_way_to_the_mappings_own_wherever_written(pure: bool) -> None:
    doc = load("""\
        base: &b {kind: bot, risk: low, owner: cx}
        agent:
          risk: high
          <<: *b
          owner: sec
        inline: {<<: [{a: 1}, {a: 2, b: 2}], b: 3}
        """, pure)
    assert doc.data["agent"] == {"risk": "high", "owner": "sec", "kind": "bot"}
    assert doc.data["inline"] == {"a": 1, "b": 3}
    assert doc.positions[("agent", "risk")] == (3, 9)
    assert doc.positions[("agent", "owner")] == (5, 10)
    assert doc.positions[("agent", "kind")] == (1, 17)
    assert doc.positions[("agent",)] == (3, 3)


def test_merging_something_else_than_a_mapping_is_refused(pure: bool) -> None:
    err = refused("a: 1\nb: {<<: [1, 2]}\n", pure)
    assert err.line == 2 and "a mapping to merge" in str(err)


def test_syntax_errors_name_line_and_column(pure: bool) -> None:
    err = refused("a: 1\nb: [1, 2\nc: 3\n", pure)
    assert "valid YAML" in str(err) and err.line is not None and err.line >= 2


def test_control_characters_are_refused_at_their_line(pure: bool) -> None:
    err = refused("a: é\nb: x\x07y\n", pure)
    assert (err.line, err.column) == (2, 5)
    assert "control characters" in str(err) and "U+0007" in str(err)
    err = refused("a: é\nb: x\ud800y\n", pure)  # a lone surrogate: no UTF-8 for it
    assert (err.line, err.column) == (2, 5) and "U+D800" in str(err)


def test_one_document_only_and_not_an_empty_one(pure: bool) -> None:
    err = refused("a: 1\n---\nb: 2\n", pure)
    assert err.line == 2 and "a single YAML document" in str(err)
    err = refused("# nothing here\n", pure)
    assert "an empty document" in str(err)


def test_positions_of_values_and_keys(pure: bool) -> None:
    doc = load("""\
        name: x
        agents:
          - name: bot
            tasks: [a, b]
        """, pure)
    assert doc.positions[()] == (1, 1)
    assert doc.positions[("agents", 0, "tasks", 1)] == (4, 16)
    assert doc.key_positions[("agents", 0, "tasks")] == (4, 5)
    assert ("agents", 0, "tasks", 2) not in doc.positions
    assert ("agents", 0) not in doc.key_positions
    assert doc.position(("agents", 0, "tasks", 7)) == (4, 12)
    err = doc.error(("agents", 0, "name"), "a better name", key=True)
    assert (err.line, err.column, err.path) == (3, 5, "agents[0].name")


# --- any document: both parsers agree, every value has a place ----------------------------

# JSON is YAML 1.2, but for two things YAML has no escape for: surrogate pairs
# ("\\ud800\\udc00") and DEL, which JSON writes as is and YAML does not allow unescaped.
TEXT = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"],
                             exclude_characters="\x7f"), max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=25,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(TEXT, JSON, max_size=4), st.booleans())
def test_json_documents_round_trip_with_a_position_for_every_value(
        data: dict[str, Any], indent: bool) -> None:
    text = json.dumps(data, indent=1 if indent else None)
    fast = load_yaml(text, "doc.yaml")
    slow = load_yaml(text, "doc.yaml", pure=True)
    assert fast.data == slow.data == data
    for path in paths(data):
        assert fast.positions[path] == slow.positions[path]
    assert dict(fast.positions) == dict(slow.positions)
    assert dict(fast.key_positions) == dict(slow.key_positions)
    assert set(fast.positions) == set(paths(data))
