"""A quality report's means per input SNR, where the set says each file's SNR.

dev/mixed and the sets `bench --make-mixed-set` and `--make-stationary-set` write
OUT/pairs.json, one entry per file: {"file": name, "snr_db": value, ...}. Grouping a report's
per-file scores by that value shows where a system gains or loses (a model level with the peers
at 10 dB can trail them at -5 dB). No torch.

    groups = snr_groups(report, file_snrs(folder))
    {"snr_db": [-5.0, 0.0, ...], "n_files": [11, 13, ...], "keys": ["pesq", "stoi", "si_sdr", ...],
     "rows": [{"name": "noisy input", "means": [[m(pesq), m(stoi), m(si_sdr)] per SNR]}, ...]}
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from streamse.errors import StreamseError

from .evaluate import METRIC_LABELS

KEYS = ("pesq", "stoi", "si_sdr")  # METRIC_LABELS keys, in table order
DECOMPOSED = ("noise_leak_db", "artefacts_db")  # added where the report has them (`bench --quality`)


def file_snrs(folder: str | Path) -> dict[str, float]:
    """{file name: input SNR dB} from folder/pairs.json; {} when the folder has none or its
    entries carry no "snr_db". A pairs.json that is not a list of such entries is an error."""
    path = Path(folder) / "pairs.json"
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise TypeError("not a list of objects")
        return {str(e["file"]): float(e["snr_db"]) for e in entries if "snr_db" in e}
    except (ValueError, TypeError, KeyError) as e:
        raise StreamseError(f"{path}: expected a list of {{'file', 'snr_db'}} entries ({e})") from None


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def snr_groups(report: dict, snrs: dict[str, float], keys: tuple[str, ...] | None = None) -> dict | None:
    """Means of `keys` per input SNR for the noisy input and every system of a
    `run_compare_quality` report (its systems' "files" rows); None when `snrs` names none of its
    files. Files `snrs` does not name are left out of the groups (counted in "unknown"). keys
    None: KEYS, and DECOMPOSED (noise leak, artefacts) where the first file's output has them."""
    files = report["systems"][0]["files"]
    if keys is None:
        first = files[0]["enhanced"] if files else {}
        keys = KEYS + tuple(k for k in DECOMPOSED if k in first)
    levels = sorted({snrs[f["name"]] for f in files if f["name"] in snrs})
    if not levels:
        return None

    def means(rows: list[dict], which: str) -> list[list[float | None]]:
        return [
            [_mean([r[which].get(k) for r in rows if snrs.get(r["name"]) == s]) for k in keys] for s in levels
        ]

    rows = [{"name": "noisy input", "means": means(files, "noisy")}]
    rows += [{"name": sys_["name"], "means": means(sys_["files"], "enhanced")} for sys_ in report["systems"]]
    return {
        "snr_db": levels,
        "n_files": [sum(snrs.get(f["name"]) == s for f in files) for s in levels],
        "unknown": sum(f["name"] not in snrs for f in files),
        "keys": list(keys),
        "rows": rows,
    }


def decimals(key: str) -> int:
    """Decimals a metric is shown to: dB values (SI-SDR, *_db) two, the others three."""
    return 2 if key == "si_sdr" or key.endswith("_db") else 3


def _cell(means: list[float | None], keys: list[str]) -> str:
    """ "1.234 / 0.567 / 8.90 / 14.73 / 5.56": dB values to two decimals, the others to three."""
    return " / ".join("-" if v is None else f"{v:.{decimals(k)}f}" for k, v in zip(keys, means))


def _labels(groups: dict) -> list[str]:
    return [f"{s:+g} dB ({n})" for s, n in zip(groups["snr_db"], groups["n_files"])]


def _what(groups: dict) -> str:
    return " / ".join(METRIC_LABELS[k].replace(" (dB)", "") for k in groups["keys"])


def format_snr_table(groups: dict) -> str:
    """Plain-text table: a row per system, a column per input SNR, cells "PESQ-WB / STOI /
    SI-SDR", then noise leak and artefacts dB where the report has them
    (`metrics.leak_and_artefacts`)."""
    cells = [[_cell(m, groups["keys"]) for m in r["means"]] for r in groups["rows"]]
    width = max(16, *(len(c) + 2 for row in cells for c in row))
    lines = [
        f"by input SNR (files): {_what(groups)}",
        f"{'system':<22}" + "".join(f"{c:>{width}}" for c in _labels(groups)),
    ]
    lines += [
        f"{r['name']:<22}" + "".join(f"{c:>{width}}" for c in row) for r, row in zip(groups["rows"], cells)
    ]
    return "\n".join(lines)


def snr_markdown(groups: dict) -> list[str]:
    """The same table in Markdown, as lines."""
    return [
        f"By input SNR (files in brackets), {_what(groups)}:",
        "",
        "| system | " + " | ".join(_labels(groups)) + " |",
        "|---|" + "---|" * len(groups["snr_db"]),
        *(
            f"| {r['name']} | " + " | ".join(_cell(m, groups["keys"]) for m in r["means"]) + " |"
            for r in groups["rows"]
        ),
    ]
