"""Chapter presets: complete, valid, and bad values rejected with a clear message."""

import pytest

from recursive_lib import presets


@pytest.mark.parametrize("chapter", sorted(presets.PRESETS))
def test_every_chapter_has_three_presets_with_the_same_knobs(chapter):
    table = presets.PRESETS[chapter]
    assert set(table) == set(presets.PRESET_NAMES)
    keys = {name: set(values) for name, values in table.items()}
    assert keys["smoke"] == keys["book"] == keys["paper"]
    for name in presets.PRESET_NAMES:
        presets.resolve(chapter, name)  # every preset passes its own validation


def test_overrides_replace_only_non_none_values():
    cfg = presets.resolve("setting", "smoke", alphas=[0.25], T=None)
    assert cfg.alphas == (0.25,)
    assert cfg.T == presets.PRESETS["setting"]["smoke"]["T"]
    assert cfg.preset == "smoke"
    assert cfg.as_dict()["alphas"] == (0.25,)


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(alphas=[0.5, 1.5]), r"alphas must be in \(0, 1\]"),
    (dict(alphas=[0.0]), r"alphas must be in \(0, 1\]"),
    (dict(m1=0), "m1"),
    (dict(T=2.5), "T"),
    (dict(reps=-1), "reps"),
    (dict(estimator="gan"), "estimator"),
    (dict(colour="red"), "unknown parameter 'colour'"),
])
def test_bad_values_name_the_parameter(overrides, message):
    with pytest.raises(ValueError, match=message):
        presets.resolve("setting", "smoke", **overrides)


def test_unknown_preset_and_chapter():
    with pytest.raises(ValueError, match="preset"):
        presets.resolve("setting", "huge")
    with pytest.raises(ValueError, match="chapter"):
        presets.resolve("no_such_chapter", "smoke")


def test_paper_presets_use_the_authors_parameters():
    paper = presets.PRESETS["setting"]["paper"]
    assert paper["alphas"] == tuple(round(0.1 * k, 1) for k in range(1, 11))
    assert (paper["m1"], paper["T"], paper["reps"]) == (50, 2000, 100)
