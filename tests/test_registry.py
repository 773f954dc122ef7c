"""The registry: type check at registration, reset/isolation for tests, broken plugins skipped in listings."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import pytest

from spoofbench.cli import main
from spoofbench.errors import SpoofbenchError
from spoofbench.registry import PluginTypeError, Registry


class Base:
    pass


class Child(Base):
    pass


def test_base_class_check_at_registration():
    reg = Registry("widget", base=Base)
    reg.register("instance", Child())
    reg.register("class", Child)
    with pytest.raises(PluginTypeError, match=r"widget 'number' .* is a int; expected a Base"):
        reg.register("number", 3)
    with pytest.raises(PluginTypeError, match="the class dict"):
        reg.register("other_class", dict)
    with pytest.raises(PluginTypeError, match="a function"):
        reg.register("builder", lambda: Child())  # no factories allowed here
    factories = Registry("widget", base=(Base, Mapping), factories=True)
    factories.register("builder", lambda: Child())
    factories.register("mapping", {"a": 1})


def test_lazy_entries_are_checked_when_loaded():
    reg = Registry("widget", base=Base)
    reg.register("wrong", "json:JSONDecodeError")  # a class, but not a Base
    with pytest.raises(PluginTypeError, match="JSONDecodeError"):
        reg.get("wrong")
    lazy_base = Registry("widget", base="collections.abc:Mapping")  # the base itself is imported lazily
    lazy_base.register("ok", {"x": 1})
    with pytest.raises(PluginTypeError):
        lazy_base.register("bad", 1.5)


def test_reset_and_isolated():
    reg = Registry("widget")
    reg.register("builtin", 1)
    reg.mark_builtins()
    with reg.isolated():
        reg.register("temporary", 2)
        reg.register("builtin", 3, overwrite=True)
        assert reg.get("builtin") == 3
    assert reg.names() == ["builtin"] and reg.get("builtin") == 1
    reg.register("leftover", 4)
    reg.reset()
    assert reg.names() == ["builtin"]


def test_loadable_skips_a_broken_plugin_with_one_warning(caplog):
    reg = Registry("widget")
    reg.register("good", "json:dumps")
    reg.register("broken", "no_such_plugin_module_x:thing", source="entry point (a wheel)")
    with caplog.at_level(logging.WARNING, logger="spoofbench.registry"):
        assert [name for name, _ in reg.loadable()] == ["good"]
    assert len(caplog.records) == 1 and "broken" in caplog.records[0].getMessage()
    reg.register("builtin_broken", "no_such_module_y:thing")  # source "spoofbench": a bug, raised
    with pytest.raises(SpoofbenchError):
        reg.loadable()


def test_builtin_registries_check_types():
    from spoofbench.codecs import CONDITIONS
    from spoofbench.models import DETECTORS

    with DETECTORS.isolated():
        with pytest.raises(PluginTypeError, match="expected a Detector"):
            DETECTORS.register("not_a_builder", 42)
        with pytest.raises(PluginTypeError, match="the class dict"):
            DETECTORS.register("a_class", dict)
    with CONDITIONS.isolated():
        with pytest.raises(PluginTypeError, match="expected a CodecCondition or Mapping"):
            CONDITIONS.register("plugin_bad", 42)
    assert "not_a_builder" not in DETECTORS and "plugin_bad" not in CONDITIONS


def test_codecs_and_models_list_survive_a_bad_plugin(capsys, caplog, tmp_path):
    from spoofbench.codecs import CONDITIONS
    from spoofbench.models import DETECTORS

    with CONDITIONS.isolated(), DETECTORS.isolated(), caplog.at_level(logging.WARNING):
        CONDITIONS.register("plugin_missing", "no_such_codec_plugin:COND", source="entry point (bad wheel)")
        DETECTORS.register("plugin_missing", "no_such_detector_plugin:build", source="entry point (bad wheel)")
        assert main(["codecs", "list", "--json"]) == 0
        ids = [row["id"] for row in json.loads(capsys.readouterr().out)]
        assert "none" in ids and "plugin_missing" not in ids
        assert main(["models", "list", "--json", "--no-tiny", "aasist", "plugin_missing"]) == 0
        names = {row["name"] for row in json.loads(capsys.readouterr().out)}
        assert "aasist" in names and "plugin_missing" not in names
    skipped = [r.getMessage() for r in caplog.records if "plugin_missing" in r.getMessage()]
    assert len(skipped) == 2, skipped


def test_codec_engines_implement_the_engine_protocol():
    """(That native never imports engines is import-linter's acyclic contract, run by tools/lint.sh.)"""
    import spoofbench.codecs.native as native
    from spoofbench.codecs.base import Coded, Engine
    from spoofbench.codecs.engines import ENGINES, select_engine

    assert all(isinstance(engine, Engine) for engine in ENGINES.values())
    from spoofbench.codecs import get_condition

    for condition_id in ("gsm_fr", "mp3_32k", "g711_mulaw"):
        engine, _ = select_engine(get_condition(condition_id))
        if engine is not None:
            assert engine.provenance_for(get_condition(condition_id))["engine"] == engine.name
    assert native.Coded is Coded


def test_stored_and_builtin_entries_never_import():
    reg = Registry("thing")
    reg.register("lazy", "no_such_module_anywhere:attr")
    reg.mark_builtins()
    reg.register("later", "another_missing_module:attr")
    assert reg.stored("lazy") == "no_such_module_anywhere:attr"  # not resolved: nothing imported
    assert reg.stored("absent") is None
    assert reg.builtin_entries() == {"lazy": "no_such_module_anywhere:attr"}
