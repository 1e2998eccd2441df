"""sounddevice loading and device lookup (by index or by part of the name), with clear errors."""

from __future__ import annotations

from streamse.errors import StreamseError, require


def load_sounddevice():
    """Import sounddevice (the 'live' extra) or say what to install."""
    try:
        return require("sounddevice", "live")
    except OSError as exc:  # sounddevice does not bundle PortAudio on Linux
        raise StreamseError(f"{exc}: install it (Debian/Ubuntu: apt-get install libportaudio2)") from exc


def list_devices(sd) -> str:
    text = str(sd.query_devices())
    return text if text.strip() else "no audio devices found (is a sound server running?)"


def _label(sd, devices, i: int) -> str:
    """'name (host API)' of device i, the text a name part is matched against."""
    try:
        api = sd.query_hostapis(devices[i]["hostapi"])["name"]
    except Exception:  # noqa: BLE001 - a fake or partial sounddevice: the name alone
        api = ""
    return f"{devices[i]['name']} ({api})" if api else devices[i]["name"]


def resolve(sd, spec: str | int | None, kind: str) -> int:
    """spec: None (default device), an index, or a case-insensitive part of the device's name
    or of its host API's name (e.g. 'jack' matches devices of "JACK Audio Connection Kit").
    kind: 'input' or 'output'. Returns the device index; unknown or ambiguous names list the
    candidates."""
    devices = list(sd.query_devices())
    key = f"max_{kind}_channels"
    usable = [i for i, d in enumerate(devices) if d[key] > 0]
    hint = "see `streamse live --list-devices`"
    if spec is None:
        default = sd.default.device[0 if kind == "input" else 1]
        if default is None or default < 0 or default not in usable:
            if not usable:
                raise StreamseError(f"no {kind} device found ({hint}; is a sound server running?)")
            default = usable[0]
        return int(default)
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        idx = int(text)
        if idx not in usable:
            raise StreamseError(f"device {idx} is not an {kind} device ({hint})")
        return idx
    labels = {i: _label(sd, devices, i) for i in usable}
    hits = [i for i in usable if text.lower() in labels[i].lower()]
    exact = [i for i in hits if devices[i]["name"].lower() == text.lower()]
    if len(exact) == 1 or len(hits) == 1:
        return (exact or hits)[0]
    if not hits:
        known = "; ".join(f"{i}: {labels[i]}" for i in usable) or "none"
        raise StreamseError(f"no {kind} device matches '{text}'; {kind} devices: {known}")
    names = "; ".join(f"{i}: {labels[i]}" for i in hits)
    raise StreamseError(
        f"'{text}' matches several {kind} devices ({names}): give the index or more of the name"
    )


def check_rate(sd, device: int, kind: str, rate: int, channels: int) -> None:
    """Raise StreamseError if the device refuses the rate, naming the rate it prefers."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=device, samplerate=rate, channels=channels, dtype="float32")
    except Exception as exc:  # sounddevice raises PortAudioError or ValueError
        native = int(sd.query_devices(device)["default_samplerate"])
        raise StreamseError(
            f"{kind} device {device} does not accept {rate} Hz ({exc}); "
            f"try --samplerate {native} (the engine resamples for the model)"
        ) from exc
