"""`streamse bench --train`: the real trainer timed per thread count, data vs model step."""

from __future__ import annotations

import pytest

from streamse.bench.train_speed import format_train_speed, run_train_speed
from streamse.errors import StreamseError


def _tiny_toml(train_data_dirs, batch: int, train_extra: str = "") -> str:
    """A config of 0.5 s items of the test audio, no rooms; `train_extra`: more [train] lines."""
    speech, noise = train_data_dirs
    return (
        f'[train]\nbatch_size = {batch}\n{train_extra}[data]\nclean_dirs = ["{speech}"]\n'
        f'noise_dirs = ["{noise}"]\nsegment_seconds = 0.5\nepoch_size = {4 * batch}\np_reverb = 0.0\n'
    )


def test_train_speed_rows(tmp_path, train_data_dirs):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(_tiny_toml(train_data_dirs, 2))
    r = run_train_speed("crn-s", str(cfg), threads=(1, 2), steps=2, warmup=1)
    assert [row["threads"] for row in r["rows"]] == [1, 2]
    for row in r["rows"]:
        assert row["data_s_p50"] > 0 and row["model_s_p50"] > 0 and 0 < row["data_share"] < 1
        assert row["audio_s_per_s"] == pytest.approx(
            2 * 0.5 * 2 / (2 * (row["data_s_p50"] + row["model_s_p50"])), rel=0.5
        )
    text = format_train_speed(r)
    assert "audio s/s" in text and "crn-s" in text


def test_train_speed_without_data_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StreamseError, match="no training audio folders: name them in the --config TOML"):
        run_train_speed("crn-s", None, threads=(1,), steps=1)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\nclean_dirs = ["missing"]\nnoise_dirs = ["missing"]\n')
    with pytest.raises(StreamseError, match="training data folder not found"):
        run_train_speed("crn-s", str(cfg), threads=(1,), steps=1)


def test_train_speed_reads_a_config_with_strategy_tables(tmp_path, train_data_dirs):
    """configs/cnunet-tb-ts.toml carries [ts-stage1] / [ts-stage2]: the model step is timed from
    the common tables; a table no strategy owns is still refused."""
    common = _tiny_toml(train_data_dirs, 1)
    cfg = tmp_path / "two_stage.toml"
    cfg.write_text(common + '[ts-stage1]\nteacher = "resemblyzer"\n[ts-stage2]\n')
    r = run_train_speed("crn-s", str(cfg), threads=(1,), steps=1, warmup=0)
    assert r["rows"][0]["batch"] == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(common + "[stage-one]\n")
    with pytest.raises(StreamseError, match="unknown tables"):
        run_train_speed("crn-s", str(bad), threads=(1,), steps=1)


def test_train_speed_times_the_forward_precision_asked_for(tmp_path, train_data_dirs):
    cfg = tmp_path / "bf16.toml"
    cfg.write_text(_tiny_toml(train_data_dirs, 1, 'autocast = "bf16"\n'))
    r = run_train_speed("crn-s", str(cfg), threads=(1,), steps=1, warmup=0)
    assert r["rows"][0]["autocast"] == "bf16" and "bf16" in format_train_speed(r)
    r = run_train_speed("crn-s", str(cfg), threads=(1,), steps=1, warmup=0, autocast="fp32")
    assert r["rows"][0]["autocast"] == "fp32"


def test_train_speed_keeps_the_configs_compile_unless_told(tmp_path, train_data_dirs, monkeypatch):
    """`[train] compile = true` in the config is timed compiled unless compile_model=False
    (--no-compile) says otherwise; torch.compile is recorded here, not run (minutes on this CPU)."""
    import torch

    compiled = []
    monkeypatch.setattr(torch, "compile", lambda net, **kw: compiled.append(net) or net)
    cfg = tmp_path / "compiled.toml"
    cfg.write_text(_tiny_toml(train_data_dirs, 1, "compile = true\n"))
    r = run_train_speed("crn-s", str(cfg), threads=(1,), steps=1, warmup=0)
    assert r["rows"][0]["compile"] is True and len(compiled) == 1
    r = run_train_speed("crn-s", str(cfg), threads=(1,), steps=1, warmup=0, compile_model=False)
    assert r["rows"][0]["compile"] is False and len(compiled) == 1


@pytest.mark.parametrize(("argv", "want"), [([], None), (["--compile"], True), (["--no-compile"], False)])
def test_bench_compile_flag_is_three_way(argv, want):
    from streamse.cli import build_parser

    args = build_parser().parse_args(["bench", "--train", *argv])
    assert args.compile is want
