"""The one exception type of menon_webhooks (kept in Python so it is an ordinary, picklable
``ValueError`` subclass; the native module raises it)."""

from __future__ import annotations


class WebhookVerificationError(ValueError):
    """A delivery, a body or a header that was refused.

    ``code`` is stable and the same in every Menon SDK (Rust, JavaScript, Python):
    ``no_secret``, ``missing_signature``, ``unsupported_scheme``, ``malformed_signature``,
    ``signature_mismatch``, ``timestamp_too_old``, ``timestamp_in_future``; the RFC 8785 codes
    ``invalid_json``, ``invalid_utf8``, ``lone_surrogate``, ``duplicate_key``,
    ``number_out_of_range``, ``trailing_data``, ``too_deep``; ``invalid_envelope``; and
    ``invalid_body`` / ``invalid_header`` for Python values that cannot be a body or a header.
    ``str(error)`` says what was wrong and what to do about it.
    """

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[type[WebhookVerificationError], tuple[str, str]]:
        return (type(self), (self.code, str(self)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {str(self)!r})"
