"""What a benchmark ran on: CPU model, cores, library versions, date."""

from __future__ import annotations

import datetime
import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    import onnxruntime as ort

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "date": datetime.date.today().isoformat(),
    }


def describe_machine(m: dict, onnxruntime: bool = False) -> str:
    """The one line every benchmark prints about where it ran: 'CPU, N cores[, onnxruntime V],
    date'."""
    ort = f", onnxruntime {m['onnxruntime']}" if onnxruntime else ""
    return f"{m['cpu']}, {m['cores']} cores{ort}, {m['date']}"
