"""The built-in library's lookup: names, paths, and what a bare name on the command line means."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import LoadError
from scenarios import library
from scenarios.library import load_scenario


def test_names_are_the_shipped_scenario_directories_sorted() -> None:
    names = library.names()
    assert "support-pii-injection" in names
    assert names == sorted(names)
    assert all((library.path_of(n) / "scenario.yaml").is_file() for n in names)


def test_a_builtin_loads_by_name_under_its_builtin_source() -> None:
    s = load_scenario("support-pii-injection")
    assert s.source == "builtin:support-pii-injection/scenario.yaml"
    assert str(s.agent("support-bot").spiffe_id) == "spiffe://acme.example/agent/support-bot"
    assert Path(str(s.base)) == Path(str(library.path_of("support-pii-injection")))


def test_every_builtin_loads_by_its_name() -> None:
    for name in library.names():
        assert load_scenario(name).name == name


def test_a_directory_on_disk_wins_over_the_builtin_of_the_same_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(Path(str(library.path_of("support-pii-injection"))),
                    tmp_path / "support-pii-injection")
    monkeypatch.chdir(tmp_path)
    assert library.locate("support-pii-injection") == "support-pii-injection"
    assert load_scenario("support-pii-injection").source == \
        "support-pii-injection/scenario.yaml"


def test_an_unknown_name_lists_the_builtins_and_suggests_the_closest() -> None:
    with pytest.raises(LoadError) as info:
        load_scenario("support-pii-injektion")
    text = str(info.value)
    assert "did you mean 'support-pii-injection'" in text
    assert "no such file or built-in" in text
    assert all(name in text for name in library.names())


def test_a_missing_path_is_left_to_the_loader_to_report(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert library.locate(missing) == missing
    with pytest.raises(LoadError) as info:
        load_scenario(missing)
    assert "no such file" in str(info.value) and "built-in" not in str(info.value)


def test_path_of_an_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        library.path_of("nope")
    with pytest.raises(KeyError):
        library.path_of("../scenarios")
