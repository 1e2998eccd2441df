"""The worker's per-step timing ring and the stall-proof RTF the start-up probe reads."""

from __future__ import annotations

import pytest

from streamse.live.counters import MAX_STEPS, Stats


def test_trimmed_rtf_ignores_one_stall_but_not_a_sustained_load():
    st = Stats()
    assert st.trimmed_rtf() == 0.0
    for _ in range(200):  # 2 s of 10 ms hops at 4 ms each
        st.log_step(0.004, 0.010)
    st.log_step(0.2, 0.010)  # one 0.2 s stall
    assert st.trimmed_rtf(0.02) == pytest.approx(0.4)
    plain = (200 * 0.004 + 0.2) / (201 * 0.010)
    assert plain > 0.49  # what counting every step reads
    for _ in range(200):  # the load doubles for the next 2 s: that is real, and it counts
        st.log_step(0.008, 0.010)
    assert st.trimmed_rtf(0.02) == pytest.approx((200 * 0.004 + 193 * 0.008) / (393 * 0.010))


def test_steps_of_several_hops_weigh_by_their_audio_and_the_ring_keeps_the_last():
    st = Stats()
    st.log_step(0.006, 0.020)  # two hops in one step
    st.log_step(0.002, 0.010)
    assert st.trimmed_rtf(0.0) == pytest.approx(0.008 / 0.030)
    for _ in range(MAX_STEPS):
        st.log_step(0.005, 0.010)
    assert st.n_steps == MAX_STEPS + 2 and st.trimmed_rtf(0.0) == pytest.approx(0.5)


def test_step_ratio_is_a_quantile_of_single_steps():
    st = Stats()
    assert st.step_ratio(0.98) == 0.0
    for k in range(100):  # steps at 1..100 % of their audio time
        st.log_step(0.0001 * (k + 1), 0.010)
    assert st.step_ratio(0.98) == pytest.approx(0.9802)
    assert st.step_ratio(0.5) == pytest.approx(0.505)
