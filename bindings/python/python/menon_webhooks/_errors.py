"""The one exception type of menon_webhooks (kept in Python so it is an ordinary, picklable
``ValueError`` subclass; the native module raises it)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

#: The HTTP status a receiver answers a refusal with, by code: the JS SDK's ``STATUS``
#: (``bindings/js/src/errors.js``), which tests/test_api.py compares with this one.
STATUS: Final[Mapping[str, int]] = MappingProxyType({
    # The request is not a valid, fresh Menon delivery: unauthorized.
    "missing_signature": 401,
    "unsupported_scheme": 401,
    "malformed_signature": 401,
    "signature_mismatch": 401,
    "timestamp_too_old": 401,
    "timestamp_in_future": 401,
    "missing_header": 401,
    "invalid_timestamp": 401,
    # The receiver has no secret configured, or a malformed one: its own fault, not the
    # sender's.
    "no_secret": 500,
    "invalid_secret": 500,
    # A validly signed body (or a value, a header) that is not an event: a bad request.
    "invalid_envelope": 400,
    "invalid_json": 400,
    "invalid_utf8": 400,
    "lone_surrogate": 400,
    "duplicate_key": 400,
    "number_out_of_range": 400,
    "trailing_data": 400,
    "too_deep": 400,
    "too_large": 400,
    "invalid_body": 400,
    "invalid_header": 400,
})

#: The status of a code not in ``STATUS`` (one an application made up), as in the JS SDK.
DEFAULT_STATUS: Final = 400


class WebhookVerificationError(ValueError):
    """A delivery, a body or a header that was refused.

    ``code`` is stable and the same in every Menon SDK (Rust, JavaScript, Python):
    ``no_secret``, ``missing_signature``, ``unsupported_scheme``, ``malformed_signature``,
    ``signature_mismatch``, ``timestamp_too_old``, ``timestamp_in_future``; for Standard
    Webhooks (``StandardWebhook``) also ``invalid_secret``, ``missing_header`` and
    ``invalid_timestamp``; the RFC 8785 codes
    ``invalid_json``, ``invalid_utf8``, ``lone_surrogate``, ``duplicate_key``,
    ``number_out_of_range``, ``trailing_data``, ``too_deep``, ``too_large``; ``invalid_envelope``; and
    ``invalid_body`` / ``invalid_header`` for Python values that cannot be a body or a header.
    ``str(error)`` says what was wrong and what to do about it.

    ``status`` is the HTTP status a receiver answers with, the same as the JS SDK's
    ``error.status``, and what the FastAPI, Flask and Django helpers answer:

    - 401 for a signature refusal: ``missing_signature``, ``unsupported_scheme``,
      ``malformed_signature``, ``signature_mismatch``, ``timestamp_too_old``,
      ``timestamp_in_future``, ``missing_header``, ``invalid_timestamp``;
    - 500 for ``no_secret`` and ``invalid_secret``: the receiver has no secret configured,
      or a malformed one;
    - 400 for everything else, a validly signed body that is not an event: ``invalid_envelope``,
      ``invalid_json``, ``invalid_utf8``, ``lone_surrogate``, ``duplicate_key``,
      ``number_out_of_range``, ``trailing_data``, ``too_deep``, ``too_large``, ``invalid_body``,
      ``invalid_header`` (and any other code).

    (The JS middleware also answers 413 for a body over its size limit; the Python helpers
    have no limit of their own, so no Python refusal is a 413.)
    """

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def status(self) -> int:
        """The HTTP status to answer this refusal with: 401, 400 or 500 (see the class)."""
        return STATUS.get(self.code, DEFAULT_STATUS)

    def __reduce__(self) -> tuple[type[WebhookVerificationError], tuple[str, str]]:
        return (type(self), (self.code, str(self)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {str(self)!r})"
