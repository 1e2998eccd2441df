"""Drive an Engine from a simulated clock: no device, no threads, deterministic.

Between two callbacks (one block period apart) the simulated worker gets one period of time.
It runs `worker_step(max_input=hop)` steps, each costing `cost(i)` seconds (i = step number);
a step that does not fit in the time left finishes in a later period (time carries over while
the worker is busy; an idle worker's time is lost, as for a real thread waiting for input).
With cost=None the worker is infinitely fast and runs everything it can before each callback.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from streamse.live.engine import Engine


def simulate(
    engine: Engine,
    x: np.ndarray,
    blocksize: int,
    out_channels: int = 1,
    cost: Callable[[int], float] | None = None,
) -> np.ndarray:
    """x: (n,) or (n, ch_in) float32 at the device rate -> played output (n_pad, out_channels),
    n_pad = n rounded up to whole blocks (the last block is zero-padded)."""
    x = np.asarray(x, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    n_blocks = -(-x.shape[0] // blocksize)
    xin = np.zeros((n_blocks * blocksize, x.shape[1]), dtype=np.float32)
    xin[: x.shape[0]] = x
    out = np.zeros((xin.shape[0], out_channels), dtype=np.float32)
    period = blocksize / engine.config.device_rate
    hop = engine.chain.hop
    budget, step, pending = 0.0, 0, None
    for k in range(n_blocks):
        if cost is None:
            while engine.worker_step():
                pass
        else:
            budget += period
            while engine.w_in - engine.r_in > 0:
                if pending is None:
                    pending = cost(step)
                if pending > budget:
                    break
                budget -= pending
                pending = None
                engine.worker_step(max_input=hop)
                step += 1
            else:
                budget = 0.0  # idle: waiting for input wastes the rest of the period
        sl = slice(k * blocksize, (k + 1) * blocksize)
        engine.callback(xin[sl], out[sl], blocksize, None, None)
    return out
