"""`streamse train`: exact resume, checkpoints that rebuild themselves (weights_only), the CLI
on a TOML config, and two-process DDP (gloo) equal to one process on the same batch."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
import torch

from streamse.models.registry import load_checkpoint
from streamse.models.train.config import TrainConfig, config_from_tables, load_config
from streamse.models.train.trainer import Trainer
from streamse_testing import tiny_train_config

TINY_MODEL = {"channels": (4, 8), "rnn_hidden": 32, "rnn_layers": 1, "fc_hidden": 32}


def _cfg(train_data_dirs, steps=6, batch=2) -> TrainConfig:
    return tiny_train_config(*train_data_dirs, TINY_MODEL, steps, batch, epoch_size=8, warmup=2)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_continues_exactly(tmp_path, train_data_dirs):
    cfg = _cfg(train_data_dirs)
    straight = Trainer("crn-s", cfg, tmp_path / "a", progress=False)
    straight.fit()
    first = Trainer("crn-s", cfg, tmp_path / "b", progress=False)
    for _ in range(4):  # 4 of 6 steps (crosses an epoch boundary at step 4), then stop
        first.train_step(*first.batch(first.step))
    first.save(tmp_path / "stop.pt", {})
    resumed = Trainer("crn-s", cfg, tmp_path / "b", resume=tmp_path / "stop.pt", progress=False)
    assert resumed.step == 4
    resumed.fit()
    a, b = _weights(straight.model), _weights(resumed.model)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=0, rtol=0, msg=k)
    # and not trivially: training moved the weights
    fresh = Trainer("crn-s", cfg, tmp_path / "c", progress=False)
    assert any(not torch.equal(a[k], v) for k, v in fresh.model.state_dict().items())


def test_checkpoint_rebuilds_model_with_weights_only(tmp_path, train_data_dirs):
    tr = Trainer("crn-s", _cfg(train_data_dirs, steps=2), tmp_path, progress=False)
    tr.fit()
    model, ckpt = load_checkpoint(tmp_path / "last.pt")  # torch.load(weights_only=True) inside
    assert ckpt["step"] == 2 and ckpt["train_config"]["train"]["steps"] == 2
    assert model.cfg == tr.model.cfg
    for k, v in tr.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)


def test_without_a_dev_set_best_is_the_latest_checkpoint(tmp_path, train_data_dirs):
    cfg = dataclasses.replace(_cfg(train_data_dirs, steps=4), valid_every=2)
    Trainer("crn-s", cfg, tmp_path, progress=False).fit()  # validations at steps 2 and 4
    assert load_checkpoint(tmp_path / "best.pt")[1]["step"] == 4


def test_several_dev_sets_keep_the_best_composite_and_log_every_validation(tmp_path, train_data_dirs):
    """valid_dirs: each set scored, the composite picks best.pt, valid.jsonl has a line per
    validation, keep_checkpoints keeps step_NNNNNN.pt."""
    import json
    import shutil

    import numpy as np
    import soundfile as sf

    speech, _ = train_data_dirs
    for name in ("setA", "setB"):
        for sub in ("noisy", "clean"):
            (tmp_path / name / sub).mkdir(parents=True)
        for i, f in enumerate(sorted(speech.iterdir())[:2]):
            x, sr = sf.read(f, dtype="float32")
            noise = 0.05 * np.random.default_rng(i).standard_normal(x.size).astype(np.float32)
            sf.write(tmp_path / name / "noisy" / f"p{i}.wav", x + noise, sr)
            shutil.copy(f, tmp_path / name / "clean" / f"p{i}.wav")
    cfg = dataclasses.replace(
        _cfg(train_data_dirs, steps=4),
        valid_every=2,
        valid_max_files=0,
        valid_dirs=(str(tmp_path / "setA"), str(tmp_path / "setB"), str(tmp_path / "missing")),
        valid_fit_dirs=(str(tmp_path / "setB"),),
        valid_transparency_dir=str(speech),
        valid_metric="composite",
        keep_checkpoints=True,
    )
    Trainer("crn-s", cfg, tmp_path / "run", progress=False).fit()
    lines = [json.loads(line) for line in (tmp_path / "run" / "valid.jsonl").read_text().splitlines()]
    assert [d["step"] for d in lines] == [2, 4]
    for d in lines:
        assert {"setA/pesq_wb", "setB/d_si_sdr", "composite", "transparency_level_db"} <= set(d)
        assert not any(k.startswith("missing/") for k in d)
        # the fit set is scored apart (same pairs, same weights: same scores) and left out of
        # the composite, which is the mean over the two dev sets
        assert d["fit/setB/pesq_wb"] == d["setB/pesq_wb"] and "fit/composite" not in d
        gains = [
            d[f"{s}/d_pesq_wb"] + d[f"{s}/d_si_sdr"] / 10 + 10 * min(0.0, d[f"{s}/d_stoi"])
            for s in ("setA", "setB")
        ]
        penalty = 0.5 * max(0.0, abs(d["transparency_level_db"]) - 1.0)
        assert d["composite"] == pytest.approx(sum(gains) / 2 - penalty)
    best = max(lines, key=lambda d: d["composite"])["step"]
    assert load_checkpoint(tmp_path / "run" / "best.pt")[1]["step"] == best
    assert (tmp_path / "run" / "step_000002.pt").is_file()


def test_batches_are_seeded(train_data_dirs, tmp_path):
    cfg = _cfg(train_data_dirs)
    a = Trainer("crn-s", cfg, tmp_path, progress=False).batch(5)
    b = Trainer("crn-s", cfg, tmp_path, progress=False).batch(5)
    c = Trainer("crn-s", dataclasses.replace(cfg, seed=1), tmp_path, progress=False).batch(5)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])


def test_worker_processes_build_the_same_batches_and_train_the_same_weights(train_data_dirs, tmp_path):
    """num_workers > 0: batches built ahead in worker processes are the inline ones, in order
    (6 steps cross an epoch boundary), so the weights after fit() are identical."""
    cfg = _cfg(train_data_dirs)
    inline = Trainer("crn-s", cfg, tmp_path / "a", progress=False)
    ahead = Trainer("crn-s", dataclasses.replace(cfg, num_workers=2), tmp_path / "b", progress=False)
    got = list(ahead.batches(1))
    assert len(got) == cfg.steps - 1
    for step, batch in enumerate(got, start=1):
        for a, b in zip(inline.batch(step), batch, strict=True):
            assert torch.equal(a, b), step
    inline.fit()
    ahead.fit()
    a, b = _weights(inline.model), _weights(ahead.model)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=0, rtol=0, msg=k)


def test_config_tables_reject_unknown_keys(tmp_path):
    from streamse.errors import StreamseError

    with pytest.raises(StreamseError, match="unknown keys"):
        config_from_tables({"train": {"stepz": 3}})
    p = tmp_path / "c.toml"
    p.write_text("[train]\nsteps = 7\n[data]\nsegment_seconds = 1.5\n[model]\nrnn_hidden = 64\n")
    cfg = load_config(p)
    assert (cfg.steps, cfg.data.segment_seconds, cfg.model) == (7, 1.5, {"rnn_hidden": 64})
    p.write_text("[model]\nchannels = [4, 8]\nkernel = [2, 3]\n")
    assert load_config(p).model == {"channels": (4, 8), "kernel": (2, 3)}  # as frozen configs hold them


def _toml(train_data_dirs, steps: int, batch: int) -> str:
    speech, noise = train_data_dirs
    model = "\n".join(f"{k} = {list(v) if isinstance(v, tuple) else v}" for k, v in TINY_MODEL.items())
    return (
        f"[train]\nsteps = {steps}\nbatch_size = {batch}\nwarmup_steps = 2\nthreads = 1\n"
        f"valid_max_files = 0\nlog_every = 1\n"
        f"[data]\nclean_dirs = ['{speech}']\nnoise_dirs = ['{noise}']\n"
        f"segment_seconds = 0.5\nepoch_size = 8\np_reverb = 0.0\n[model]\n{model}\n"
    )


def _free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it), for torchrun's rendezvous."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_and_ddp_two_processes_match_one(tmp_path, train_data_dirs):
    """torchrun, 2 CPU processes with gloo, batch 4 split 2+2 == one process with batch 4."""
    (tmp_path / "tiny.toml").write_text(_toml(train_data_dirs, steps=2, batch=4))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    train = ["-m", "streamse", "train", "--model", "crn-s", "--config", str(tmp_path / "tiny.toml")]
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port())]
    for out, launcher in (("one", []), ("ddp", torchrun)):
        argv = [sys.executable, *launcher, *train, "--out", str(tmp_path / out)]
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
    a, _ = load_checkpoint(tmp_path / "one" / "last.pt")
    b, _ = load_checkpoint(tmp_path / "ddp" / "last.pt")
    for k, v in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[k], v, atol=1e-5, rtol=1e-4, msg=k)


def test_bf16_autocast_runs_the_forward_in_bfloat16_and_keeps_the_rest_fp32(tmp_path, train_data_dirs):
    """[train] autocast = "bf16": the estimate comes back fp32 but differs from the fp32
    forward's by bfloat16 rounding (so the forward did run in bf16), the gradients point the same
    way, and weights, optimiser state and checkpoint stay fp32. Other values are refused."""
    cfg = _cfg(train_data_dirs, steps=2)
    fp32 = Trainer("crn-s", cfg, tmp_path / "a", progress=False)
    bf16 = Trainer("crn-s", dataclasses.replace(cfg, autocast="bf16"), tmp_path / "b", progress=False)
    noisy, clean = fp32.batch(0)
    est_a, est_b = fp32.net(noisy), bf16.net(noisy)
    assert est_b.dtype == torch.float32 and est_b.shape == est_a.shape
    rel = (est_b - est_a).norm() / est_a.norm()
    assert 1e-4 < rel < 0.05, rel  # bf16 keeps ~3 significant digits: not equal, not far
    grads = []
    for tr in (fp32, bf16):
        tr.opt.zero_grad()
        loss, _ = tr.spectral_loss(tr.net(noisy), clean, noisy)
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in tr.model.parameters()]))
    assert torch.nn.functional.cosine_similarity(*grads, dim=0) > 0.95
    bf16.fit()
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())
    assert all(
        v.dtype == torch.float32 for s in bf16.opt.state.values() for v in s.values() if v.is_floating_point()
    )
    model, _ = load_checkpoint(tmp_path / "b" / "last.pt")
    assert all(v.dtype == torch.float32 for v in model.state_dict().values() if v.is_floating_point())
    from streamse.errors import StreamseError

    with pytest.raises(StreamseError, match="autocast must be one of"):
        config_from_tables({"train": {"autocast": "fp16"}})
