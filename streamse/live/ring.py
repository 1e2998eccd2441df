"""Preallocated float32 ring addressed by absolute sample index (single producer, single consumer).

Sample index i lives in slot i % capacity. The ring holds no counters: the engine publishes the
producer's and consumer's absolute indices as plain int attributes (a single attribute store is
atomic under the GIL), always *after* the data it covers is written. `write` and `read_into`
copy with at most two slice assignments and never allocate a buffer.
"""

from __future__ import annotations

import numpy as np


class Ring:
    def __init__(self, capacity: int):
        """capacity: samples, rounded up to a power of two."""
        self.capacity = 1 << max(1, int(capacity - 1).bit_length())
        self.buf = np.zeros(self.capacity, dtype=np.float32)

    def write(self, start: int, x: np.ndarray) -> None:
        """Store x (n,) at absolute indices start .. start+n-1 (n <= capacity)."""
        n = x.shape[0]
        a = start % self.capacity
        first = min(n, self.capacity - a)
        self.buf[a : a + first] = x[:first]
        if first < n:
            self.buf[: n - first] = x[first:]

    def read_into(self, start: int, out: np.ndarray) -> None:
        """Copy absolute indices start .. start+len(out)-1 into out (n,)."""
        n = out.shape[0]
        a = start % self.capacity
        first = min(n, self.capacity - a)
        out[:first] = self.buf[a : a + first]
        if first < n:
            out[first:] = self.buf[: n - first]
