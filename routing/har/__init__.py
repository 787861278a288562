"""HAR files as browsers' dev tools save them: read for ``explain``, redacted for ``redact``."""

from .read import HarError, read_har
from .redact import redact_har

__all__ = ["HarError", "read_har", "redact_har"]
