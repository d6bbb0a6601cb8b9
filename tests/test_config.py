"""The run configurations of the continually trained experiments (recursive_lib.experiments.config)."""

import dataclasses

import pytest

from recursive_lib.experiments.config import RunConfig
from recursive_lib.experiments.gpt2 import GPT2Config, run_gpt2
from recursive_lib.experiments.images import ImagesConfig, run_images
from recursive_lib.experiments.text import TextConfig, run_text

KINDS = [ImagesConfig, TextConfig, GPT2Config]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_shares_the_base_fields_in_the_same_order_with_seed_defaulting_to_zero(kind):
    names = [f.name for f in dataclasses.fields(kind)]
    base = [f.name for f in dataclasses.fields(RunConfig)]
    assert names[: len(base)] == base
    assert names[:3] == ["alpha", "seed", "rep"]
    assert kind(alpha=0.5).seed == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_config_is_frozen_validated_and_normalised(kind):
    config = kind(alpha=1, T=10, snapshot_at=[10, 1, 10])
    assert config.alpha == 1.0 and config.snapshot_at == (1, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.alpha = 0.3
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        kind(alpha=1.5)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        kind(alpha=0.5, seed=-1)
    with pytest.raises(ValueError, match=r"lr must be .*\(0, inf\)"):
        kind(alpha=0.5, lr=0)
    with pytest.raises(ValueError, match="snapshot_at must hold"):
        kind(alpha=0.5, T=3, snapshot_at=[5])
    with pytest.raises(ValueError, match="unknown .* field 'sed'; did you mean 'seed'"):
        kind.from_fields(alpha=0.5, sed=1)
    with pytest.raises(ValueError, match="needs alpha"):
        kind.from_fields(seed=1)
    assert config.replace(T=20).T == 20 and config.T == 10


@pytest.mark.parametrize("run", [run_images, run_text, run_gpt2])
def test_a_run_refuses_anything_but_its_config_before_any_work(run):
    with pytest.raises(ValueError, match="config must be a"):
        run(0.5)
    with pytest.raises(ValueError, match="unknown"):
        run(alpha=0.5, not_a_field=1)


def test_gpt2_checkpoint_needs_names():
    with pytest.raises(ValueError, match="checkpoint_dir needs network, tokenizer and dataset"):
        GPT2Config(alpha=0.5, dataset=object(), checkpoint_dir="here")
    with pytest.raises(ValueError, match="tokenizer must be given"):
        GPT2Config(alpha=0.5, network=object())
