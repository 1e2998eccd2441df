"""Training strategies (cyclegan, iddp): a few steps give a checkpoint `streamse export`
accepts, resume is exact, `--init` loads weights, and the IDDP loss has the fixed points it
should (and not the ones it should not)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf
import torch

from streamse.models.registry import load_checkpoint
from streamse.models.train.config import TrainConfig
from streamse.models.train.strategies import STRATEGIES
from streamse.models.train.strategies.cyclegan import CycleGANConfig
from streamse.models.train.strategies.discriminator import (
    DiscriminatorConfig,
    SpectrumDiscriminator,
    lsgan_d_loss,
)
from streamse.models.train.strategies.iddp import IDDPConfig, iddp_loss
from streamse_testing import tiny_crn
from bundled import DATA
from streamse_testing import tiny_train_config
from bundled import run_streamse

TINY_MODEL = {"channels": (4, 8), "rnn_hidden": 16, "rnn_layers": 1, "fc_hidden": 16}
TINY_CYCLEGAN = CycleGANConfig.from_table(
    {"generator": {"channels": 4, "dilations": [1, 2]}, "discriminator": {"channels": [2, 4]}}
)


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    """Tiny speech (4 pieces of the bundled utterance), noise, and 'noisy recordings' folders."""
    root = tmp_path_factory.mktemp("data")
    speech, noise, noisy = root / "speech", root / "noise", root / "noisy"
    for d in (speech, noise, noisy):
        d.mkdir()
    clean, sr = sf.read(DATA / "clean.wav", dtype="float32")
    rng = np.random.default_rng(0)
    for i in range(4):
        piece = clean[i * 8000 : i * 8000 + 12000]
        sf.write(speech / f"utt{i}.wav", piece, sr)
        sf.write(noisy / f"rec{i}.wav", piece + 0.05 * rng.standard_normal(piece.size), sr)
    for i in range(2):
        sf.write(noise / f"n{i}.wav", 0.1 * rng.standard_normal(16000).astype(np.float32), sr)
    return speech, noise, noisy


def _cfg(data_dirs, steps=3) -> TrainConfig:
    speech, noise, _ = data_dirs
    return tiny_train_config(speech, noise, TINY_MODEL, steps, segment_s=0.25)


def _trainer(name, data_dirs, out, steps=3, resume=None, scfg=None):
    cls, cfg_cls = STRATEGIES[name]
    if scfg is None and cfg_cls is not None:
        scfg = TINY_CYCLEGAN if name == "cyclegan" else cfg_cls()
    return cls("crn-s", _cfg(data_dirs, steps), out, resume=resume, progress=False, strategy_cfg=scfg)


@pytest.mark.parametrize("name", ["cyclegan", "iddp"])
def test_resume_continues_exactly(tmp_path, data_dirs, name):
    straight = _trainer(name, data_dirs, tmp_path / "a")
    straight.fit()
    first = _trainer(name, data_dirs, tmp_path / "b")
    for _ in range(2):  # 2 of 3 steps (crosses the epoch boundary at step 2), then stop
        first.train_step(*first.batch(first.step))
    first.save(tmp_path / "stop.pt", {})
    resumed = _trainer(name, data_dirs, tmp_path / "b", resume=tmp_path / "stop.pt")
    assert resumed.step == 2
    resumed.fit()
    nets = ["model"] + (["gen_b", "d_clean", "d_noisy"] if name == "cyclegan" else [])
    for net in nets:
        a, b = getattr(straight, net).state_dict(), getattr(resumed, net).state_dict()
        for k in a:
            torch.testing.assert_close(b[k], a[k], atol=0, rtol=0, msg=f"{net}.{k}")
    fresh = _trainer(name, data_dirs, tmp_path / "c")
    moved = straight.model.state_dict()
    assert any(not torch.equal(moved[k], v) for k, v in fresh.model.state_dict().items())


@pytest.mark.parametrize("name", ["cyclegan", "iddp"])
def test_a_strategy_with_its_own_step_refuses_autocast(tmp_path, data_dirs, name):
    from streamse.errors import StreamseError

    cls, cfg_cls = STRATEGIES[name]
    scfg = TINY_CYCLEGAN if name == "cyclegan" else cfg_cls()
    cfg = dataclasses.replace(_cfg(data_dirs), autocast="bf16")
    with pytest.raises(StreamseError, match="does not autocast"):
        cls("crn-s", cfg, tmp_path, progress=False, strategy_cfg=scfg)


def test_cyclegan_checkpoint_holds_all_networks_and_exports(tmp_path, data_dirs):
    tr = _trainer("cyclegan", data_dirs, tmp_path, steps=2)
    tr.fit()
    model, ckpt = load_checkpoint(tmp_path / "last.pt")  # the noisy->clean generator
    assert ckpt["strategy"] == "cyclegan" and model.cfg == tr.model.cfg
    for key in ("noise_generator", "disc_clean", "disc_noisy", "optimizer", "optimizer_d"):
        assert key in ckpt
    out = run_streamse(
        "export", "--checkpoint", str(tmp_path / "last.pt"), "-o", str(tmp_path / "g.onnx"), timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "g.onnx").is_file()


def test_cyclegan_discriminator_warmup_freezes_generators(tmp_path, data_dirs):
    """d_warmup_steps = 2: the first two steps move the discriminators and neither generator;
    the third moves the generators too."""
    tr = _trainer(
        "cyclegan", data_dirs, tmp_path, steps=3, scfg=dataclasses.replace(TINY_CYCLEGAN, d_warmup_steps=2)
    )

    def snap(net):
        return {k: v.clone() for k, v in getattr(tr, net).state_dict().items()}

    def same(a, b):
        return all(torch.equal(a[k], b[k]) for k in a)

    start = {net: snap(net) for net in ("model", "gen_b", "d_clean", "d_noisy")}
    for _ in range(2):
        tr.train_step(*tr.batch(tr.step))
    assert same(snap("model"), start["model"]) and same(snap("gen_b"), start["gen_b"])
    assert not same(snap("d_clean"), start["d_clean"])
    assert not same(snap("d_noisy"), start["d_noisy"])
    tr.train_step(*tr.batch(tr.step))
    assert not same(snap("model"), start["model"]) and not same(snap("gen_b"), start["gen_b"])


def test_iddp_cli_on_noisy_folder_with_init(tmp_path, data_dirs):
    """The CLI path: --strategy iddp --noisy-dir DIR --init CKPT; 2 steps, then export."""
    speech, noise, noisy = data_dirs
    sup = _trainer("supervised", data_dirs, tmp_path / "sup", steps=1)
    sup.fit()
    model = "\n".join(f"{k} = {list(v) if isinstance(v, tuple) else v}" for k, v in TINY_MODEL.items())
    (tmp_path / "c.toml").write_text(
        f"[train]\nsteps = 2\nbatch_size = 2\nwarmup_steps = 1\nthreads = 1\n"
        f"valid_max_files = 0\n[data]\nclean_dirs = ['/nonexistent']\n"
        f"noise_dirs = ['{noise}']\nsegment_seconds = 0.25\nepoch_size = 4\n"
        f"[iddp]\nsnr_db = [0, 9]\n[model]\n{model}\n"
    )
    paths = ["--config", str(tmp_path / "c.toml"), "--noisy-dir", str(noisy)]
    paths += ["--init", str(tmp_path / "sup" / "last.pt"), "--out", str(tmp_path / "iddp")]
    run = run_streamse(*"train --model crn-s --strategy iddp".split(), *paths)
    assert run.returncode == 0, run.stderr[-2000:]  # clean_dirs is never read with --noisy-dir
    _, ckpt = load_checkpoint(tmp_path / "iddp" / "last.pt")
    assert ckpt["step"] == 2 and ckpt["strategy"] == "iddp"


def test_init_loads_weights_and_rejects_other_configs(tmp_path, data_dirs):
    from streamse.errors import StreamseError
    from streamse.models.train.strategies.base import init_weights

    sup = _trainer("supervised", data_dirs, tmp_path / "sup", steps=1)
    sup.fit()
    slim = {
        k: v
        for k, v in torch.load(tmp_path / "sup" / "last.pt").items()
        if k not in ("optimizer", "scheduler", "torch_rng")
    }  # like the shipped crn.pt
    torch.save(slim, tmp_path / "slim.pt")
    tr = _trainer("iddp", data_dirs, tmp_path / "x")
    init_weights(tr.model, tr.family, tmp_path / "slim.pt")
    for k, v in sup.model.state_dict().items():
        assert torch.equal(tr.model.state_dict()[k], v)
    other = STRATEGIES["iddp"][0](
        "crn-s",
        dataclasses.replace(_cfg(data_dirs), model={}),
        tmp_path / "y",
        progress=False,
        strategy_cfg=IDDPConfig(),
    )
    with pytest.raises(StreamseError, match="config differs"):
        init_weights(other.model, other.family, tmp_path / "slim.pt")


def test_iddp_loss_fixed_points():
    """Zero gradient when the second pass returns the first estimate exactly (what a perfect
    denoiser does); not so for the identity model, whose second pass keeps the added noise."""
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(2, 4000, generator=g)
    y1 = 0.5 * x1 + 0.1 * torch.randn(2, 4000, generator=g)
    cfg = IDDPConfig()
    y2 = y1.clone().requires_grad_(True)
    loss_at_target, _ = iddp_loss(x1, y1, y2, cfg)
    loss_at_target.backward()
    assert y2.grad.abs().max() < 1e-6
    noisy_again = (x1 + 0.3 * torch.randn(2, 4000, generator=g)).requires_grad_(True)
    loss_identity, _ = iddp_loss(x1, x1, noisy_again, cfg)  # f = identity: y1 = x1, y2 = x2
    loss_identity.backward()
    assert loss_identity > loss_at_target - 1e-6 + 0.01
    assert noisy_again.grad.abs().max() > 1e-6


def test_cyclegan_l1_domains(tmp_path, data_dirs):
    """Cycle/identity L1 between waveforms (the seed's, default) or compressed spectra: on the
    same pair the spectral L1 is several times the waveform L1, which is why the seed's
    weights (20, 10) swamp the adversarial term in the spectral domain."""
    from streamse.errors import StreamseError

    tr = _trainer("cyclegan", data_dirs, tmp_path / "w")
    assert tr.scfg.l1_domain == "wave"
    noisy, clean = tr.batch(0)
    x, y = tr.model.analyse(noisy), tr.model.analyse(clean)
    wave = float(tr._dist(x, y))
    torch.testing.assert_close(
        torch.tensor(wave), (tr.model.synthesise(x) - tr.model.synthesise(y)).abs().mean()
    )
    spec = _trainer(
        "cyclegan", data_dirs, tmp_path / "s", scfg=dataclasses.replace(TINY_CYCLEGAN, l1_domain="spectrum")
    )
    assert float(spec._dist(x, y)) > 5 * wave > 0  # ~9x on the bundled p287 pair
    with pytest.raises(StreamseError, match="l1_domain"):
        _trainer(
            "cyclegan", data_dirs, tmp_path / "b", scfg=dataclasses.replace(TINY_CYCLEGAN, l1_domain="time")
        )


def test_spectrum_discriminator_learns_clean_from_noisy():
    """The default cyclegan discriminator, trained alone for 400 steps on crops of the bundled
    clean utterance vs its real noisy recording, scores held-out crops (the last third, never
    trained on) clean > noisy; its level normalisation makes scores gain-invariant. (The first
    design, 4/8/16 channels with no time stride and no level normalisation, stayed near
    chance on the real training data: docs/unsupervised.md.)"""
    clean, _ = sf.read(DATA / "clean.wav", dtype="float32")
    noisy, _ = sf.read(DATA / "noisy.wav", dtype="float32")
    stft = tiny_crn()
    n, cut = 8000, 2 * clean.size // 3

    def crops(wave, lo, hi, rng, k=8):
        starts = rng.integers(lo, hi - n, k)
        gains = 10 ** rng.uniform(-1.5, 0, (k, 1))  # -30..0 dB: level must not be the cue
        return stft.analyse(torch.from_numpy(np.stack([wave[s : s + n] for s in starts]) * gains).float())

    torch.manual_seed(0)
    d = SpectrumDiscriminator(DiscriminatorConfig())
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    for _ in range(400):
        loss = lsgan_d_loss(d, crops(clean, 0, cut, rng), crops(noisy, 0, cut, rng))
        opt.zero_grad()
        loss.backward()
        opt.step()
    rng = np.random.default_rng(1)
    with torch.no_grad():
        y, x = crops(clean, cut, clean.size, rng, 16), crops(noisy, cut, clean.size, rng, 16)
        s_clean, s_noisy = d(y).mean((1, 2, 3)), d(x).mean((1, 2, 3))
        torch.testing.assert_close(d(0.01 * y), d(y), atol=1e-4, rtol=1e-4)
    assert s_clean.mean() > s_noisy.mean() + 0.25, (s_clean, s_noisy)
    assert (s_clean > 0.5).float().mean() > 0.8 and (s_noisy < 0.5).float().mean() > 0.8


@pytest.mark.parametrize(
    "argv,match",
    [
        (
            ["--strategy", "nope"],
            "unknown strategy 'nope'; choose one of ['cyclegan', 'iddp', "
            "'supervised', 'ts-stage1', 'ts-stage2']",
        ),
        (["--strategy", "ts-stage1", "--teacher", "nope"], "unknown teacher 'nope'; choose one of"),
    ],
)
def test_names_come_from_the_tables(argv, match, tmp_path, capsys):
    """--strategy and --teacher are checked against the strategy and teacher tables (the CLI
    copies no list of names): an unknown one is a one-line error listing the table."""
    from streamse.cli import main

    code = main(["train", "--model", "cnunet-tb-ts", "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1
