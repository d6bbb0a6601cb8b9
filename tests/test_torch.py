"""Device handling: one helper, :func:`recursive_lib._torch.placement`, picks the device
and the floating type of every model and tensor; the neural estimators, the DDPM (MLP and U-Net)
and the GRU run with the device forced through ``RECURSIVE_DEVICE``, the path a GPU takes, and
seeded runs are identical. The U-Net learns on a handful of 28x28 images."""

import re

import numpy as np
import pytest
import torch
from conftest import ROOT

from recursive_lib import _torch
from recursive_lib.continual.char_lm import CharLM
from recursive_lib.continual.diffusion import DDPM
from recursive_lib.estimators import Flow, QuantileSampler

LIBRARY = ROOT / "recursive_lib"


def test_placement_reads_the_override_and_rejects_a_bad_one(monkeypatch):
    monkeypatch.setenv("RECURSIVE_DEVICE", "cpu")
    place = _torch.placement()
    assert place.device == torch.device("cpu") and place.dtype == torch.float32
    t = place.tensor(np.arange(3.0))
    assert t.dtype == torch.float32 and t.device == place.device
    assert place.tensor([1, 2], integer=True).dtype == torch.long
    source = torch.ones(2)
    copy = place.tensor(source)
    copy += 1
    assert source.tolist() == [1.0, 1.0], "placement().tensor must copy"
    monkeypatch.setenv("RECURSIVE_DEVICE", "no-such-device")
    with pytest.raises(ValueError, match="RECURSIVE_DEVICE must name a torch device"):
        _torch.placement()
    monkeypatch.delenv("RECURSIVE_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert _torch.placement().device.type == expected


def test_no_module_picks_a_device_or_a_float_type_of_its_own(root):
    """Every device and float type comes from _torch.placement(): no literal "cuda", .cuda(),
    torch.device(...) or torch.float32 elsewhere in the library (a model's own tensors follow
    its parameters)."""
    pattern = re.compile(r"""["']cuda["']|\.cuda\(|torch\.device\(|torch\.float(32|64)\b|\.to\(dev\)""")
    offenders = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in LIBRARY.rglob("*.py")
        if path.name != "_torch.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def _runs():
    """One small fit and sample of every torch model of the package, seeded; numbers out."""
    rng = np.random.default_rng
    out = {}
    x = rng(0).normal(size=300)
    q = QuantileSampler(hidden=(8, 8), epochs=2, batch_size=64, n_eval=500, random_state=rng(1)).fit(x)
    out["quantile"] = q.sample(50, rng(2))
    assert all(p.device.type == _torch.placement().device.type for p in q.params_)
    flow = Flow(transforms=1, hidden=(8,), steps=5, batch_size=32, random_state=rng(3)).fit(
        rng(4).normal(size=(200, 2))
    )
    out["flow"] = flow.sample(20, rng(5))
    images = np.tanh(rng(6).normal(size=(40, 4, 4))).astype(np.float32)
    ddpm = DDPM(diffusion_steps=10, width=16, depth=1, epochs=2, batch_size=20, lr=1e-3)
    out["ddpm_loss"] = ddpm.partial_fit(images, rng(7))
    out["ddpm"] = ddpm.sample(6, rng(8))
    assert next(ddpm.net_.parameters()).dtype == _torch.placement().dtype
    blocks = rng(9).integers(0, 5, size=(16, 12))
    lm = CharLM(5, block_len=12, embed=4, hidden=8, epochs=1, batch_size=8)
    out["gru_loss"] = lm.partial_fit(blocks, rng(10))
    out["gru"] = lm.sample(4, rng(11))
    out["gru_score"] = lm.score(blocks)
    return out


def test_models_run_with_the_device_forced_and_seeded_runs_are_identical(monkeypatch):
    monkeypatch.setenv("RECURSIVE_DEVICE", "cpu")
    forced = _runs()
    again = _runs()
    monkeypatch.delenv("RECURSIVE_DEVICE")
    default = _runs()
    for key in forced:
        np.testing.assert_array_equal(np.asarray(forced[key]), np.asarray(again[key]), err_msg=key)
        if not torch.cuda.is_available():  # the default is the CPU here: the very same numbers
            np.testing.assert_array_equal(np.asarray(forced[key]), np.asarray(default[key]), err_msg=key)


def _digits_28(n):
    """``n`` 28x28 images in [-1, 1]: scikit-learn's 8x8 digits enlarged three times, framed by 2
    background pixels (MNIST's shape without a download)."""
    from recursive_lib.data.digits import load_images

    small = load_images("digits", 100).train[:n]
    big = np.repeat(np.repeat(small, 3, axis=1), 3, axis=2)
    return np.pad(big, ((0, 0), (2, 2), (2, 2)), constant_values=-1.0).astype(np.float32)


@pytest.mark.slow
def test_unet_ddpm_learns_on_28x28_images_and_samples_in_range():
    pytest.importorskip("diffusers", reason="the [hf] extra is not installed")
    images = _digits_28(16)
    assert images.shape == (16, 28, 28)
    model = DDPM(diffusion_steps=50, width=8, depth=1, epochs=1, batch_size=8, lr=2e-3, network="unet")
    rng = np.random.default_rng(0)
    losses = np.array([model.partial_fit(images, rng) for _ in range(40)])
    first, last = losses[:10], losses[-10:]
    # the loss falls by more than three standard errors of the difference of the two means
    se = np.sqrt(first.var(ddof=1) / len(first) + last.var(ddof=1) / len(last))
    assert first.mean() - last.mean() > 3 * se, (first, last)
    samples = model.sample(3, np.random.default_rng(1))
    assert samples.shape == (3, 28, 28) and samples.min() >= -1 and samples.max() <= 1
    assert type(model.net_.unet).__name__ == "UNet2DModel"
    # seeded: a second model trained on the same stream gives the same numbers
    twin = DDPM(diffusion_steps=50, width=8, depth=1, epochs=1, batch_size=8, lr=2e-3, network="unet")
    rng = np.random.default_rng(0)
    assert twin.partial_fit(images, rng) == losses[0]


def test_unet_rejects_what_it_cannot_take():
    with pytest.raises(ValueError, match="network must be one of"):
        DDPM(network="transformer")
    with pytest.raises(ValueError, match="width must be a multiple of 8"):
        DDPM(network="unet", width=12)
    pytest.importorskip("diffusers", reason="the [hf] extra is not installed")
    model = DDPM(diffusion_steps=5, width=8, depth=1, epochs=1, network="unet")
    with pytest.raises(ValueError, match="square images"):
        model.partial_fit(np.zeros((2, 4, 6), np.float32), np.random.default_rng(0))
