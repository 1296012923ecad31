"""Tests for convo.profiles: the built-in data, id resolution, the permissive default for unknown
models, users' own profile files and GET /v1/models responses."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import orjson
import pytest

from convo.errors import ProfileError
from convo.profiles import (
    EFFORT_LEVELS,
    SOURCE_TAGS,
    THINKING_MODES,
    Profile,
    ProfileRegistry,
    UnknownModelWarning,
    builtin_profiles,
    get_profile,
    load_profiles,
    profiles_from_models_response,
)

SHARED = Path(__file__).parents[1].parent / "shared"
DATA = Path(__file__).parents[1] / "convo" / "profiles.json"

# facts §2.1 (the SDK's Model literal) plus the Sep-2026 docs' additions
SDK_MODELS = [
    "claude-sonnet-5", "claude-fable-5", "claude-mythos-5", "claude-opus-5", "claude-opus-4-8",
    "claude-opus-4-7", "claude-mythos-preview", "claude-opus-4-6", "claude-sonnet-4-6",
    "claude-haiku-4-5", "claude-haiku-4-5-20251001", "claude-opus-4-5", "claude-opus-4-5-20251101",
    "claude-sonnet-4-5", "claude-sonnet-4-5-20250929",
]
SEP_2026 = ["claude-opus-5-5", "claude-fable-5-1", "claude-mythos-5-1"]
NO_PREFILL = ["claude-fable-5", "claude-mythos-5", "claude-mythos-preview", "claude-opus-4-8",
              "claude-opus-4-7", "claude-opus-4-6", "claude-sonnet-4-6", "claude-sonnet-5",
              "claude-opus-5", "claude-opus-5-5", "claude-fable-5-1", "claude-mythos-5-1"]
PREFILL = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"]
DEFAULT_ONLY = ["claude-opus-4-7", "claude-opus-4-8", "claude-mythos-preview", "claude-sonnet-5",
                "claude-opus-5", "claude-opus-5-5", "claude-fable-5", "claude-fable-5-1",
                "claude-mythos-5", "claude-mythos-5-1"]
MID_SYSTEM = ["claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5",
              "claude-opus-5-5", "claude-opus-4-8", "claude-opus-5"]
NO_FORCED_TOOL = ["claude-opus-5-5", "claude-fable-5-1", "claude-mythos-5-1", "claude-mythos-preview"]
EFFORT_MAX = ["claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5",
              "claude-mythos-preview", "claude-opus-5-5", "claude-opus-5", "claude-opus-4-8",
              "claude-opus-4-7", "claude-opus-4-6", "claude-sonnet-5", "claude-sonnet-4-6"]
EFFORT_XHIGH = ["claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5",
                "claude-opus-5-5", "claude-opus-5", "claude-opus-4-8", "claude-opus-4-7", "claude-sonnet-5"]
NO_DISABLED = ["claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5",
               "claude-opus-5-5", "claude-mythos-preview"]
NO_ENABLED_47_PLUS = ["claude-opus-4-7", "claude-opus-4-8", "claude-sonnet-5", "claude-opus-5",
                      "claude-opus-5-5", "claude-fable-5", "claude-fable-5-1", "claude-mythos-5",
                      "claude-mythos-5-1"]
NO_ADAPTIVE = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"]
# issue 12: the SDK 2.17 ids, the live cassettes' claude-sonnet-4-0 and the retired claude-3-opus
SDK_2_17 = ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5-2", "claude-mythos-5-2"]
ISSUE_12 = {*SDK_2_17, "claude-sonnet-4-0", "claude-3-opus"}  # their figures are UNCONFIRMED
ALL_CANONICAL = sorted({*SEP_2026, *(m for m in SDK_MODELS if not m[-8:].isdigit())})


def quiet_profile(model: str, **kw: Any) -> Profile:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelWarning)
        return get_profile(model, **kw)


class TestBuiltinData:
    def test_every_documented_model_has_a_profile(self) -> None:
        """Every id of facts §2.1 and the Sep-2026 additions resolves to a known profile."""
        for model in [*SDK_MODELS, *SEP_2026]:
            assert get_profile(model).known, model

    def test_dated_aliases_resolve(self) -> None:
        """Dated ids resolve to their family's profile."""
        assert get_profile("claude-haiku-4-5-20251001").model == "claude-haiku-4-5"
        assert get_profile("claude-opus-4-5-20251101").model == "claude-opus-4-5"
        assert get_profile("claude-sonnet-4-5-20250929").model == "claude-sonnet-4-5"

    @pytest.mark.parametrize("model", ALL_CANONICAL)
    def test_prefill(self, model: str) -> None:
        """Prefill is rejected on 4.6 and later and Mythos, accepted on the 4.5 models (facts §1.4)."""
        assert get_profile(model).prefill is (model in PREFILL)
        assert model in PREFILL or model in NO_PREFILL

    @pytest.mark.parametrize("model", ALL_CANONICAL)
    def test_sampling(self, model: str) -> None:
        """4.7 and later, Mythos Preview and Sonnet 5 take only default sampling (facts §2.3)."""
        assert get_profile(model).sampling == ("default_only" if model in DEFAULT_ONLY else "any")

    @pytest.mark.parametrize("model", ALL_CANONICAL)
    def test_mid_conversation_system(self, model: str) -> None:
        """Only the models on the Sep-2026 list accept mid-conversation system messages (facts §1.5)."""
        assert get_profile(model).mid_conversation_system is (model in MID_SYSTEM)

    @pytest.mark.parametrize("model", ALL_CANONICAL)
    def test_thinking_modes(self, model: str) -> None:
        """Thinking types follow facts §2.5."""
        modes = get_profile(model).thinking_modes
        assert ("disabled" in modes) is (model not in NO_DISABLED)
        assert ("enabled" in modes) is (model not in NO_ENABLED_47_PLUS)
        assert ("adaptive" in modes) is (model not in NO_ADAPTIVE)
        assert set(modes) <= set(THINKING_MODES)

    @pytest.mark.parametrize("model", ALL_CANONICAL)
    def test_forced_tool_choice_and_effort(self, model: str) -> None:
        """Forced tool choice and the max/xhigh effort levels follow facts §2.5."""
        p = get_profile(model)
        assert p.forced_tool_choice is (model not in NO_FORCED_TOOL)
        assert ("max" in p.effort_levels) is (model in EFFORT_MAX)
        assert ("xhigh" in p.effort_levels) is (model in EFFORT_XHIGH)
        if p.effort_levels:
            assert p.default_effort == ("medium" if model == "claude-opus-5-5" else "high")
            assert p.default_effort in p.effort_levels
        else:
            assert p.default_effort is None

    def test_opus_5_needs_thinking_at_high_efforts(self) -> None:
        """Opus 5 can turn thinking off except at xhigh and max effort."""
        p = get_profile("claude-opus-5")
        assert "disabled" in p.thinking_modes and p.thinking_required_efforts == ("xhigh", "max")

    @pytest.mark.parametrize(("model", "context", "output"), [
        ("claude-opus-5-5", 1_000_000, 128_000), ("claude-fable-5-1", 1_000_000, 128_000),
        ("claude-sonnet-5", 1_000_000, 128_000), ("claude-opus-5", 1_000_000, 128_000),
        ("claude-opus-4-7", 1_000_000, 128_000), ("claude-opus-4-6", 1_000_000, 128_000),
        ("claude-sonnet-4-6", 1_000_000, 64_000), ("claude-haiku-4-5", 200_000, 64_000),
        ("claude-sonnet-4-5", 200_000, 64_000), ("claude-opus-4-5", 200_000, 64_000),
    ])
    def test_documented_limits(self, model: str, context: int, output: int) -> None:
        """Context window and max output match facts §2.2 and are tagged DOC."""
        p = get_profile(model)
        assert (p.context_window, p.max_output) == (context, output)
        assert p.source_of("context_window") == p.source_of("max_output") == "DOC"

    @pytest.mark.parametrize("model", ["claude-opus-4-8", "claude-fable-5", "claude-mythos-5",
                                       "claude-mythos-5-1", "claude-mythos-preview"])
    def test_unconfirmed_limits_are_marked(self, model: str) -> None:
        """Limits no page confirmed use the family's figures and say UNCONFIRMED."""
        p = get_profile(model)
        assert (p.context_window, p.max_output) == (1_000_000, 128_000)
        assert p.source_of("context_window") == "UNCONFIRMED"

    @pytest.mark.parametrize("model", ALL_CANONICAL)
    def test_image_limits(self, model: str) -> None:
        """100 images on 200K-context models, 600 on the others (facts §3.3)."""
        p = get_profile(model)
        assert p.max_images == (100 if p.context_window == 200_000 else 600)
        assert p.max_image_bytes == 10 * 1024 * 1024
        assert (p.max_image_px, p.many_images_px, p.many_images_threshold) == (8000, 2000, 20)

    def test_long_edge_on_4_7_and_later(self) -> None:
        """The downscale limit is 2576 px on Claude 4.7 and later, 1568 before."""
        assert get_profile("claude-opus-4-7").image_long_edge == 2576
        assert get_profile("claude-opus-4-8").image_long_edge == 2576
        assert get_profile("claude-opus-4-6").image_long_edge == 1568
        assert get_profile("claude-sonnet-4-5").image_long_edge == 1568

    @pytest.mark.parametrize(("model", "minimum"), [
        ("claude-opus-4-7", 4096), ("claude-opus-4-6", 4096), ("claude-opus-4-5", 4096),
        ("claude-haiku-4-5", 4096), ("claude-mythos-preview", 4096), ("claude-sonnet-4-6", 2048),
        ("claude-sonnet-4-5", 1024), ("claude-opus-5-5", 512), ("claude-opus-5", 512),
    ])
    def test_cache_minimums(self, model: str, minimum: int) -> None:
        """Cache minimums follow facts §3.5."""
        assert get_profile(model).cache_min_tokens == minimum

    def test_every_entry_names_its_sources(self) -> None:
        """Every model entry in profiles.json tags its facts with a known source."""
        data = json.loads(DATA.read_text(encoding="utf-8"))
        for model, entry in data["models"].items():
            src = entry["source"]
            assert "*" in src, model
            assert set(src.values()) <= set(SOURCE_TAGS), model
        for model in ALL_CANONICAL:
            p = get_profile(model)
            for name in ("prefill", "sampling", "thinking_modes", "max_output"):
                assert p.source_of(name) in SOURCE_TAGS

    def test_loaded_once(self) -> None:
        """The built-in registry is read once and shared."""
        assert builtin_profiles() is builtin_profiles()


class TestResolve:
    @pytest.mark.parametrize(("given", "expected"), [
        ("claude-opus-4-8-20261101", "claude-opus-4-8"),
        ("claude-opus-5-5-20270101", "claude-opus-5-5"),
        ("claude-opus-5-5", "claude-opus-5-5"),
        ("anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-opus-4-6@20260101", "claude-opus-4-6"),
        ("claude-sonnet-4-5-20250929-extra", "claude-sonnet-4-5"),
    ])
    def test_family_and_platform_ids(self, given: str, expected: str) -> None:
        """Dated, Bedrock and Vertex spellings resolve to the family's profile."""
        assert builtin_profiles().resolve(given) == expected
        assert get_profile(given).model == expected

    @pytest.mark.parametrize("given", ["claude-opus-5-7", "claude-opus-4", "claude-3-7-sonnet-20250219",
                                       "gpt-4o", "claude-sonnet-4-5x"])
    def test_other_versions_are_not_guessed(self, given: str) -> None:
        """Another minor version or an unrelated id is not matched to a known family."""
        assert builtin_profiles().resolve(given) is None

    def test_mapping_protocol(self) -> None:
        """The registry is a read-only mapping of canonical ids."""
        reg = builtin_profiles()
        assert set(reg) == set(ALL_CANONICAL) | ISSUE_12
        assert len(reg) == len(ALL_CANONICAL) + len(ISSUE_12)
        assert reg["claude-opus-4-8"].model == "claude-opus-4-8"
        assert "claude-haiku-4-5-20251001" not in reg
        assert reg.aliases["claude-haiku-4-5-20251001"] == "claude-haiku-4-5"


class TestUnknownModels:
    def test_permissive_default(self) -> None:
        """An unknown model gets a profile that rejects nothing model-specific."""
        p = quiet_profile("claude-opus-9")
        assert p.model == "claude-opus-9" and not p.known
        assert p.prefill and p.sampling == "any" and p.mid_conversation_system and p.forced_tool_choice
        assert p.thinking_modes == THINKING_MODES and p.effort_levels == EFFORT_LEVELS
        assert p.max_output >= 1_000_000 and p.context_window >= 1_000_000 and p.max_images >= 600

    def test_warns_once_per_model(self) -> None:
        """The UnknownModelWarning comes once per model id, and no exception."""
        reg = ProfileRegistry({})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                reg.get_profile("model-a")
            reg.get_profile("model-b")
        assert [str(w.message).split("'")[1] for w in caught] == ["model-a", "model-b"]
        assert all(w.category is UnknownModelWarning for w in caught)

    def test_no_model_no_warning(self) -> None:
        """A missing model gets the default without a warning."""
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not get_profile(None).known
            assert get_profile("").model == ""

    def test_profile_is_a_value(self) -> None:
        """Profiles are frozen and hashable; sources do not affect equality."""
        p = get_profile("claude-opus-4-8")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            p.prefill = True  # type: ignore[misc]
        assert hash(p) == hash(attrs.evolve(p, sources={}))
        assert p == attrs.evolve(p, sources={})


class TestLoadProfiles:
    def test_file_merged_over_builtins(self, tmp_path: Path) -> None:
        """A user's file changes only what it names and adds new models."""
        f = tmp_path / "mine.json"
        f.write_text(json.dumps({"models": {
            "claude-opus-4-8": {"max_output": 300000, "source": "OBS"},
            "acme-large": {"extends": "claude-sonnet-4-5", "prefill": False, "aliases": ["acme-l"]},
            "acme-free": {"max_images": 5},
        }}), encoding="utf-8")
        reg = load_profiles(f)
        opus = reg.get_profile("claude-opus-4-8")
        assert opus.max_output == 300000 and opus.prefill is False and opus.mid_conversation_system
        assert opus.source_of("max_output") == "OBS"
        acme = reg.get_profile("acme-l")
        assert acme.model == "acme-large" and acme.known and not acme.prefill and acme.max_images == 100
        free = reg.get_profile("acme-free")
        assert free.known and free.max_images == 5 and free.prefill  # new ids start from the default
        # facts without a source are unconfirmed; inherited ones keep their tags
        assert acme.source_of("prefill") == "UNCONFIRMED" and acme.source_of("context_window") == "DOC"
        assert free.source_of("max_image_bytes") == "DOC"
        assert reg.get_profile("claude-haiku-4-5") == builtin_profiles()["claude-haiku-4-5"]
        assert builtin_profiles()["claude-opus-4-8"].max_output == 128000  # the built-ins are untouched

    def test_extends_in_any_order(self) -> None:
        """Entries may extend entries defined later in the same file."""
        reg = load_profiles({"models": {"b": {"extends": "a", "max_output": 7}, "a": {"extends": "claude-opus-4-8"}}})
        assert reg.get_profile("b").max_output == 7 and not reg.get_profile("b").prefill

    def test_default_can_be_changed(self) -> None:
        """The file's default changes what unknown models get."""
        reg = load_profiles({"default": {"prefill": False}})
        p = quiet_profile("who-knows", registry=reg)
        assert not p.known and not p.prefill

    def test_dated_id_entry_starts_from_its_family(self) -> None:
        """An entry for a dated id of a known family starts from that family's profile."""
        reg = load_profiles({"models": {"claude-opus-4-8-20261101": {"max_output": 1}}})
        p = reg.get_profile("claude-opus-4-8-20261101")
        assert p.max_output == 1 and p.mid_conversation_system and p.model == "claude-opus-4-8-20261101"

    @pytest.mark.parametrize(("data", "message"), [
        ({"models": {"x": {"prefill": "no"}}}, "$.models.x.prefill: expected a boolean, got a string"),
        ({"models": {"claude-x.1": {"max_output": -1}}}, '$.models["claude-x.1"].max_output: expected a non-negative integer'),
        # thinking types are an open set (issue 12: between_tools), but each must be a type name
        ({"models": {"x": {"thinking_modes": ["enabled", "Deep Thought"]}}},
         "$.models.x.thinking_modes[1]: expected a thinking type name"),
        ({"models": {"x": {"prefil": True}}}, "$.models.x.prefil: unknown key"),
        ({"models": {"x": {"extends": "nope"}}}, "$.models.x.extends: unknown model 'nope'"),
        ({"models": {"x": {"extends": "y"}, "y": {"extends": "x"}}}, "goes round in a circle"),
        ({"models": {"x": {"source": "WIKI"}}}, "$.models.x.source: expected one of"),
        ({"models": {"x": {"source": {"colour": "DOC"}}}}, "$.models.x.source.colour: not a profile field"),
        ({"models": {"x": {"sampling": "some"}}}, '$.models.x.sampling: expected "any" or "default_only"'),
        ({"models": {"x": {"aliases": "y"}}}, "$.models.x.aliases: expected an array of model ids"),
        ({"models": []}, "$.models: expected an object"),
        ({"format": 2}, "$.format: expected 1"),
        ({"extra": 1}, "$.extra: unknown key"),
    ])
    def test_bad_data_names_the_path(self, data: Any, message: str) -> None:
        """Bad profile data raises ProfileError naming where it came from and the JSON path."""
        with pytest.raises(ProfileError) as info:
            load_profiles(data)
        assert str(info.value).startswith("<mapping>: ")
        assert message in str(info.value)

    def test_bad_file_names_the_file(self, tmp_path: Path) -> None:
        """A file error names the file and the path inside it."""
        f = tmp_path / "bad.json"
        f.write_text('{"models": {"m": {"max_images": "many"}}}', encoding="utf-8")
        with pytest.raises(ProfileError, match=r"bad\.json: \$\.models\.m\.max_images: expected"):
            load_profiles(f)

    def test_invalid_json_and_missing_file(self, tmp_path: Path) -> None:
        """Unreadable or non-JSON files raise ProfileError naming the file."""
        f = tmp_path / "broken.json"
        f.write_text("{not json", encoding="utf-8")
        with pytest.raises(ProfileError, match=r"broken\.json: \$: invalid JSON"):
            load_profiles(f)
        with pytest.raises(ProfileError, match=r"absent\.json: cannot read"):
            load_profiles(tmp_path / "absent.json")
        f.write_text("[]", encoding="utf-8")
        with pytest.raises(ProfileError, match=r"broken\.json: \$: expected an object"):
            load_profiles(f)

    def test_builtin_file_round_trips_through_the_loader(self) -> None:
        """Loading the shipped file over nothing gives the same profiles as the built-ins."""
        data = orjson.loads(DATA.read_bytes())
        reg = load_profiles(data, base=ProfileRegistry({}))
        assert dict(reg) == dict(builtin_profiles())


def _model_info(mid: str, **over: Any) -> dict[str, Any]:
    """A ModelInfo shaped like the spec's (every required key present)."""
    sup = {"supported": True}
    info = {
        "type": "model", "id": mid, "display_name": mid, "created_at": "2026-11-01T00:00:00Z",
        "max_input_tokens": 1_000_000, "max_tokens": 128_000,
        "capabilities": {
            "batch": sup, "citations": sup, "code_execution": sup, "image_input": sup, "pdf_input": sup,
            "structured_outputs": sup,
            "context_management": {"supported": True, "clear_thinking_20251015": sup,
                                   "clear_tool_uses_20250919": sup, "compact_20260112": None},
            "effort": {"supported": True, "low": sup, "medium": sup, "high": sup, "max": sup, "xhigh": None},
            "thinking": {"supported": True, "types": {"adaptive": sup, "enabled": {"supported": False}}},
        },
    }
    info.update(over)
    return info


class TestModelsResponse:
    def test_sample_matches_the_spec(self) -> None:
        """The test's /v1/models sample is valid against the OpenAPI spec's ListResponse[ModelInfo]."""
        spec = json.loads((SHARED / "spec" / "anthropic-openapi-messages.json").read_text(encoding="utf-8"))
        schema = {"$ref": "#/components/schemas/ListResponse_ModelInfo_", "components": spec["components"]}
        body = {"data": [_model_info("claude-opus-4-8")], "first_id": "claude-opus-4-8",
                "last_id": "claude-opus-4-8", "has_more": False}
        jsonschema.Draft202012Validator(schema).validate(body)

    def test_known_model_takes_the_response_figures(self) -> None:
        """A listed known model gets the response's limits and capabilities, the rest from its profile."""
        body = {"data": [_model_info("claude-opus-4-8", max_input_tokens=2_000_000, max_tokens=256_000)],
                "has_more": False, "first_id": None, "last_id": None}
        reg = profiles_from_models_response(orjson.dumps(body))
        p = reg.get_profile("claude-opus-4-8")
        assert (p.context_window, p.max_output) == (2_000_000, 256_000)
        assert p.effort_levels == ("low", "medium", "high", "max")
        assert p.thinking_modes == ("adaptive", "disabled")  # disabled: /v1/models does not say; kept
        assert p.prefill is False and p.mid_conversation_system  # not in the response: from the profile
        assert p.source_of("max_output") == "API" and p.source_of("prefill") == "DOC"

    def test_new_model_starts_from_the_default(self) -> None:
        """A model convo has never heard of becomes known, with the response's figures."""
        info = _model_info("claude-opus-6", max_input_tokens=200_000, max_tokens=64_000)
        info["capabilities"]["image_input"] = {"supported": False}
        info["capabilities"]["effort"] = {"supported": False, "low": {"supported": False},
                                          "medium": {"supported": False}, "high": {"supported": False},
                                          "max": {"supported": False}, "xhigh": None}
        reg = profiles_from_models_response({"data": [info]})
        p = reg.get_profile("claude-opus-6")
        assert p.known and p.model == "claude-opus-6"
        assert (p.context_window, p.max_output, p.max_images) == (200_000, 64_000, 0)
        assert p.effort_levels == () and p.prefill  # unsaid: the permissive default
        assert reg.get_profile("claude-sonnet-4-5") == builtin_profiles()["claude-sonnet-4-5"]

    def test_single_model_info_and_null_capabilities(self) -> None:
        """A GET /v1/models/{id} body works too, and null fields keep the profile's values."""
        info = _model_info("claude-haiku-4-5-20251001", max_tokens=None, capabilities=None)
        p = profiles_from_models_response(info).get_profile("claude-haiku-4-5-20251001")
        assert p.model == "claude-haiku-4-5-20251001" and p.max_output == 64_000 and p.prefill
        assert p.context_window == 1_000_000

    @pytest.mark.parametrize(("body", "message"), [
        ({"data": [{"id": 3}]}, "$.data[0].id: expected a model id string"),
        ({"data": [_model_info("m", max_tokens="big")]}, "$.data[0].max_tokens: expected a non-negative integer"),
        ({"data": "nope"}, "$.data: expected an array"),
        ({"models": []}, "$: expected a models list"),
        (b"{oops", "$: invalid JSON"),
    ])
    def test_bad_responses(self, body: Any, message: str) -> None:
        """A response of the wrong shape raises ProfileError with the JSON path."""
        with pytest.raises(ProfileError) as info:
            profiles_from_models_response(body)
        assert str(info.value).startswith("<GET /v1/models>: ")
        assert message in str(info.value)


class TestPackageData:
    """convo._resources.read: the package's data files, read beside the module (no
    importlib.resources, which imports tempfile, at a command's start), and through
    importlib.resources where the package is not on a file system."""

    def test_read_beside_the_module_is_the_file(self) -> None:
        from convo import _resources

        root = Path(_resources.__file__).parent
        for name in ("profiles.json", "schema.json"):
            assert _resources.read(name) == (root / name).read_bytes()

    def test_a_package_not_on_a_file_system_asks_its_loader(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import builtins
        import importlib.resources

        from convo import _resources

        expected = importlib.resources.files("convo").joinpath("profiles.json").read_bytes()
        real_open = builtins.open

        def zip_like(path: Any, *args: Any, **kwargs: Any) -> Any:  # a path inside a zip file is no file
            if str(path).endswith("profiles.json"):
                raise NotADirectoryError(20, "Not a directory", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", zip_like)
        assert _resources.read("profiles.json") == expected
        with pytest.raises(FileNotFoundError):
            _resources.read("no-such-file.json")
