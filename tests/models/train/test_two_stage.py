"""CNUNet-TB-TS two-stage training (the teachers themselves: tests/models/teachers): stage 1
-> stored latents -> stage 2 on a tiny synthetic data folder, with stage 2 reading exactly the
mixtures stage 1 stored (keys, digests and tensors compared)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from streamse.errors import StreamseError
from streamse.models.registry import load_checkpoint
from streamse.models.train.config import TrainConfig
from streamse_testing import need_resemblyzer, tiny_wavlm
from streamse.models.train.two_stage import (
    Stage1Config,
    Stage1Trainer,
    Stage2Config,
    Stage2Trainer,
    digest,
    mixture_keys,
    record_path,
)
from streamse_testing import tiny_train_config
from bundled import run_streamse

TINY_TB = {"mid": 8, "out": 8, "stages": (2, 1), "dense_layers": 3, "gate_kernel": 5, "attn_frames": 4}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _cfg(train_data_dirs, steps=2) -> TrainConfig:
    loss = dataclasses.replace(TrainConfig().loss, cplx=0.1, mag=0.9)
    return tiny_train_config(*train_data_dirs, TINY_TB, steps, loss=loss)


def test_stage1_store_stage2(tmp_path, train_data_dirs):
    need_resemblyzer()
    cfg, latents = _cfg(train_data_dirs), tmp_path / "latents"
    s1cfg = Stage1Config(teacher="resemblyzer", latent_dir=str(latents), store_steps=3)
    s1 = Stage1Trainer("cnunet-tb-ts", cfg, tmp_path / "s1", progress=False, strategy_cfg=s1cfg)
    s1.fit()
    assert s1.step == 2 and s1.model.fusion is not None
    model1, _ = load_checkpoint(tmp_path / "s1" / "last.pt")  # rebuilds the fused model
    assert model1.cfg.embed_dim == 256
    meta = json.loads((latents / "meta.json").read_text())
    assert (meta["steps"], meta["seed"], meta["teacher_hears"]) == (3, 0, "clean")

    s2cfg = Stage2Config(latent_dir=str(latents), stage1_checkpoint=str(tmp_path / "s1" / "last.pt"))
    s2 = Stage2Trainer("cnunet-tb-ts", cfg, tmp_path / "s2", progress=False, strategy_cfg=s2cfg)
    assert s2.model.fusion is None
    for k, v in s2.model.state_dict().items():  # initialised from stage 1, fusion dropped
        torch.testing.assert_close(v, model1.state_dict()[k])
    for step in (0, 1, 2, 4):  # step 4 wraps to stored step 1
        noisy, _, latent = s2.batch(step)
        rec = torch.load(record_path(latents, step % 3), weights_only=True)
        assert mixture_keys(s2, step % 3) == mixture_keys(s1, step % 3)
        assert rec["indices"].tolist() == mixture_keys(s2, step % 3)[1]
        torch.testing.assert_close(rec["digest"], digest(noisy), rtol=0, atol=0)
        torch.testing.assert_close(latent, rec["latent"].float(), rtol=0, atol=0)
        assert latent.shape == (2, 8, 8000 // s2.model.cfg.hop, 64)
    s2.fit()
    assert s2.step == 2
    model2, _ = load_checkpoint(tmp_path / "s2" / "last.pt")
    assert model2.cfg.embed_dim == 0


def test_stage2_refuses_other_mixtures(tmp_path, train_data_dirs):
    """A WavLM teacher hearing the noisy input stores latents; stage 2 refuses them under
    another seed, or when a record's keys were altered."""
    cfg, latents = _cfg(train_data_dirs), tmp_path / "latents"
    s1cfg = Stage1Config(teacher="wavlm", latent_dir=str(latents), teacher_hears="noisy")
    s1 = Stage1Trainer(
        "cnunet-tb-ts", cfg, tmp_path / "s1", progress=False, strategy_cfg=s1cfg, teacher=tiny_wavlm()
    )
    assert s1.model.cfg.embed_dim == 16
    s1.store_latents(latents, 1)
    s2cfg = Stage2Config(latent_dir=str(latents), init="scratch")
    with pytest.raises(StreamseError, match="seed"):
        Stage2Trainer(
            "cnunet-tb-ts",
            dataclasses.replace(cfg, seed=1),
            tmp_path / "s2",
            progress=False,
            strategy_cfg=s2cfg,
        )
    rec = torch.load(record_path(latents, 0), weights_only=True)
    rec["indices"] = rec["indices"].flip(0)
    torch.save(rec, record_path(latents, 0))
    s2 = Stage2Trainer("cnunet-tb-ts", cfg, tmp_path / "s2", progress=False, strategy_cfg=s2cfg)
    with pytest.raises(StreamseError, match="other mixtures"):
        s2.batch(0)


def _toml(train_data_dirs, tmp_path) -> str:
    speech, noise = train_data_dirs
    model = "\n".join(f"{k} = {list(v) if isinstance(v, tuple) else v}" for k, v in TINY_TB.items())
    latents, s1 = tmp_path / "latents", tmp_path / "s1" / "last.pt"
    return (
        f"[train]\nsteps = 2\nbatch_size = 2\nwarmup_steps = 1\nthreads = 1\n"
        f"valid_max_files = 0\nvalid_every = 1000\n[data]\nclean_dirs = ['{speech}']\n"
        f"noise_dirs = ['{noise}']\nsegment_seconds = 0.5\nepoch_size = 4\np_reverb = 0.0\n"
        f"[loss]\ncplx = 0.1\nmag = 0.9\n[model]\n{model}\n"
        f"[ts-stage1]\nlatent_dir = '{latents}'\nstore_steps = 2\n"
        f"[ts-stage2]\nlatent_dir = '{latents}'\nstage1_checkpoint = '{s1}'\n"
    )


def test_cli_two_stages_and_online_latents(tmp_path, train_data_dirs):
    """`streamse train --strategy ts-stage1 --teacher ... --teacher-hears noisy` then
    `--strategy ts-stage2`; the stage-1 checkpoint records its teacher, and the on-the-fly
    variant (latents = 'online') computes the latents the store holds for the same batches."""
    need_resemblyzer()

    cfg = tmp_path / "c.toml"
    cfg.write_text(_toml(train_data_dirs, tmp_path))

    def train(strategy, *extra):
        out = str(tmp_path / ("s" + strategy[-1]))
        args = "train --model cnunet-tb-ts --strategy".split()
        run = run_streamse(*args, strategy, "--config", str(cfg), "--out", out, *extra, timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]

    train("ts-stage1", "--teacher", "resemblyzer", "--teacher-hears", "noisy")
    s1 = torch.load(tmp_path / "s1" / "last.pt", weights_only=True)
    assert s1["ts_stage1"] == {"teacher": "resemblyzer", "teacher_path": "", "teacher_hears": "noisy"}
    assert json.loads((tmp_path / "latents" / "meta.json").read_text())["teacher_hears"] == "noisy"
    train("ts-stage2", "--latents", "store")
    model2, ckpt2 = load_checkpoint(tmp_path / "s2" / "last.pt")
    assert ckpt2["step"] == 2 and model2.cfg.embed_dim == 0

    from streamse.models.tables import read_toml
    from streamse.models.train.strategies.base import split_config

    tcfg, _ = split_config(read_toml(cfg), "ts-stage2", Stage2Config)
    online = Stage2Trainer(
        "cnunet-tb-ts",
        tcfg,
        tmp_path / "on",
        progress=False,
        strategy_cfg=Stage2Config(latents="online", stage1_checkpoint=str(tmp_path / "s1" / "last.pt")),
    )
    assert online.store is None
    for step in (0, 1):
        _, _, latent = online.batch(step)
        stored = torch.load(record_path(tmp_path / "latents", step), weights_only=True)["latent"]
        assert latent.shape == stored.shape
        torch.testing.assert_close(latent, stored.float(), rtol=1e-2, atol=2e-3 * float(latent.abs().max()))
    online.fit()
    assert online.step == 2
    with pytest.raises(StreamseError, match="stage-1"):  # a stage-2 checkpoint is no teacher
        Stage2Trainer(
            "cnunet-tb-ts",
            tcfg,
            tmp_path / "bad",
            progress=False,
            strategy_cfg=Stage2Config(
                latents="online", init="scratch", stage1_checkpoint=str(tmp_path / "s2" / "last.pt")
            ),
        )
