"""User-facing errors: the CLI prints these as one line, without a traceback."""


class StreamseError(Exception):
    """A problem the user can fix (bad file, missing model, missing device, bad flag value)."""


class MissingExtraError(StreamseError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str):
        super().__init__(f"this needs the '{module}' package: pip install 'streamse[{extra}]'")
        self.module = module
        self.extra = extra


def require(module: str, extra: str):
    """Import `module` or raise MissingExtraError naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra) from exc
