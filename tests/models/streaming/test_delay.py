"""`FrameDelay`: whole frames late along axis 2, zeros first; any chunking of the stream gives
the offline numbers, for spectra (B, C, T, F) and features (B, C, T)."""

from __future__ import annotations

import pytest
import torch

from streamse.models.streaming import FrameDelay


@pytest.mark.parametrize("rest", [(5,), ()])
@pytest.mark.parametrize("frames", [1, 3])
def test_frames_come_out_late_and_chunked_streams_equal_offline(frames, rest):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 17, *rest)
    delay = FrameDelay(frames, 4, rest)
    y = delay(x)
    assert y.shape == x.shape
    assert float(y[:, :, :frames].abs().max()) == 0.0
    torch.testing.assert_close(y[:, :, frames:], x[:, :, :-frames], atol=0, rtol=0)
    whole = 15 // frames  # chunks of exactly the cache's length, then the rest
    for chunks in ([1] * 17, [frames] * whole + [17 - frames * whole], [5, 1, 11]):
        state, outs, t = delay.init_state(2), [], 0
        for n in chunks:
            out, state = delay.step(x[:, :, t : t + n], state)
            outs.append(out)
            t += n
        torch.testing.assert_close(torch.cat(outs, dim=2), y, atol=0, rtol=0)


def test_no_delay_is_refused():
    with pytest.raises(ValueError, match="frames >= 1"):
        FrameDelay(0, 2)
