"""Play a WAV into JACK input ports and record a JACK output port, sample-accurately, as a
separate process (so that it can load PipeWire's libjack: run with LD_LIBRARY_PATH set).

    python vio_run.py IN.wav OUT.npy --inputs 'vmic:playback_.*' --output 'NAME:capture_.*'
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repo root

from streamse.bench.jack_card import VirtualIO  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("wav")
p.add_argument("out")
p.add_argument("--inputs", required=True)
p.add_argument("--output", required=True)
p.add_argument("--tail", type=float, default=0.5)
a = p.parse_args()
x, fs = sf.read(a.wav, dtype="float32")
vio = VirtualIO(x, int(a.tail * fs), inputs=a.inputs, output=a.output)
rec = vio.play_and_record()
np.save(a.out, np.concatenate([[float(vio.xruns)], rec]).astype(np.float32))
