"""Behaviour of the Python API beyond the shared vectors: argument conversion, header lookup,
defaults, error mapping, canonicalize from Python values, the GIL."""

from __future__ import annotations

import collections
import decimal
import email.message
import enum
import pickle
import re
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
from data import EVENT_FILES, NOW, OTHER_SECRET, SECRET

import menon_webhooks
from menon_webhooks import Verified, Webhook, WebhookVerificationError, canonicalize, sign, verify

BODY = EVENT_FILES[0].read_bytes()
V1 = "X-Menon-Signature"
V2 = "X-Menon-Signature-V2"


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, ValueError)
    return caught.value.code


# --- headers ---------------------------------------------------------------------------------------


def signed(body: bytes = BODY, secret: Any = SECRET, t: int = NOW) -> dict[str, str]:
    return sign(body, secret, timestamp=t)


@pytest.mark.parametrize("spell", [str.lower, str.upper, str.swapcase, lambda s: s])
def test_plain_dict_headers_any_case(spell: Any) -> None:
    h = signed()
    for name in (V1, V2):
        only = {spell(name): h[name]}
        assert Webhook(SECRET).verify_delivery(BODY, only, now=NOW).scheme == ("v1" if name == V1 else "v2")


def test_framework_header_objects() -> None:
    from django.http.request import HttpHeaders
    from starlette.datastructures import Headers as StarletteHeaders
    from werkzeug.datastructures import EnvironHeaders
    from werkzeug.datastructures import Headers as WerkzeugHeaders

    h = signed()
    starlette = StarletteHeaders(raw=[(k.lower().encode(), v.encode()) for k, v in h.items()])
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in h.items()}
    message = email.message.Message()
    for k, v in h.items():
        message[k.upper()] = v
    for headers in (
        starlette,
        EnvironHeaders(environ),
        WerkzeugHeaders(list(h.items())),
        HttpHeaders(environ),
        types.MappingProxyType({k.lower(): v for k, v in h.items()}),
        message,
    ):
        got = Webhook(SECRET).verify_delivery(BODY, headers, now=NOW)  # type: ignore[arg-type]
        assert got == Webhook(SECRET).verify_delivery(BODY, h, now=NOW)
        assert got.scheme == "v2", type(headers)
        tampered = BODY.replace(b"evt_", b"evt_x", 1)
        assert code_of(verify, tampered, headers, SECRET, now=NOW) == "signature_mismatch"


def test_v2_is_used_when_present_else_v1() -> None:
    fresh = signed()
    stale = signed(t=NOW - 1000)
    both = {V1: fresh[V1], V2: stale[V2]}
    assert code_of(verify, BODY, both, SECRET, now=NOW) == "timestamp_too_old"
    for absent in ("", "  \t", None):
        headers = {V1: fresh[V1], V2: absent}
        assert Webhook(SECRET).verify_delivery(BODY, headers, now=NOW).scheme == "v1"
    assert Webhook(SECRET).verify_delivery(BODY, {V1: fresh[V1]}).scheme == "v1"  # v1 has no clock
    for none in ({}, {V1: "", V2: None}, {"Content-Type": "application/json"}):
        assert code_of(verify, BODY, none, SECRET, now=NOW) == "missing_signature"


def test_bytes_header_values_and_bad_values() -> None:
    h = signed()
    assert Webhook(SECRET).verify_delivery(BODY, {V2: h[V2].encode()}, now=NOW).scheme == "v2"
    for bad in ([h[V2]], 5, (h[V1],)):
        with pytest.raises(WebhookVerificationError) as caught:
            verify(BODY, {V1: bad}, SECRET)
        assert caught.value.code == "invalid_header"
        assert V1 in str(caught.value) and type(bad).__name__ in str(caught.value)
    assert code_of(verify, BODY, {V1: "sha256=\ud800"}, SECRET) == "malformed_signature"


def test_headers_that_are_not_a_mapping() -> None:
    for bad in (None, [(V1, "x")], "X-Menon-Signature: x"):
        with pytest.raises(TypeError, match="headers must be a mapping"):
            verify(BODY, bad, SECRET)  # type: ignore[arg-type]


# --- secrets -----------------------------------------------------------------------------------------


def test_no_secret() -> None:
    h = signed()
    for secret in (None, "", [], (), [SECRET, ""], [None], [SECRET, None]):
        assert code_of(Webhook, secret) == "no_secret"
        assert code_of(verify, BODY, h, secret, now=NOW) == "no_secret"
        assert code_of(sign, BODY, secret) == "no_secret"
    with pytest.raises(WebhookVerificationError, match="environment variable"):
        Webhook(None)  # type: ignore[arg-type]


def test_secret_of_the_wrong_type() -> None:
    for secret in (b"whsec_x", 5, [SECRET, 5], {"a": SECRET}, [b"whsec_x"]):
        with pytest.raises(TypeError, match="secret"):
            Webhook(secret)  # type: ignore[arg-type]


def test_rotation() -> None:
    old_signed = signed(secret=OTHER_SECRET)
    both = Webhook((SECRET, OTHER_SECRET))
    got = both.verify_delivery(BODY, {V1: old_signed[V1]})
    assert (got.scheme, got.secret_index, got.timestamp) == ("v1", 1, None)
    got = both.verify_delivery(BODY, {V2: old_signed[V2]}, now=NOW)
    assert (got.scheme, got.secret_index, got.timestamp) == ("v2", 1, NOW)
    headers = both.sign(BODY, timestamp=NOW)
    assert headers[V1] == signed()[V1]  # v1: the newest secret only
    assert headers[V2].count(",v2=") == 2
    assert Webhook(OTHER_SECRET).verify_delivery(BODY, {V2: headers[V2]}, now=NOW).secret_index == 0
    assert code_of(Webhook(SECRET).verify_delivery, BODY, old_signed, now=NOW) == "signature_mismatch"


def test_webhook_repr_hides_secrets() -> None:
    shown = repr(Webhook([SECRET, OTHER_SECRET]))
    assert "2" in shown and SECRET not in shown and "MfKQ" not in shown


# --- time ---------------------------------------------------------------------------------------------


def test_default_timestamp_and_now_are_the_clock() -> None:
    before = int(time.time())
    headers = sign(BODY, SECRET)
    after = int(time.time())
    assert before <= int(headers["X-Menon-Timestamp"]) <= after
    assert headers[V2].startswith(f"t={headers['X-Menon-Timestamp']},v2=")
    assert verify(BODY, headers, SECRET) == verify(BODY, headers, SECRET, now=after)
    assert code_of(verify, BODY, signed(t=before - 400), SECRET) == "timestamp_too_old"
    assert code_of(verify, BODY, signed(t=after + 400), SECRET) == "timestamp_in_future"
    assert verify(BODY, signed(t=before - 400), SECRET, tolerance=500)["type"]


def test_tolerance_bounds_and_message() -> None:
    h = signed()
    assert verify(BODY, h, SECRET, now=NOW + 60, tolerance=60)
    with pytest.raises(WebhookVerificationError, match=r"61 s old, beyond the 60 s tolerance.*clock"):
        verify(BODY, h, SECRET, now=NOW + 61, tolerance=60)


def test_bad_time_arguments() -> None:
    h = signed()
    with pytest.raises(ValueError, match="tolerance must be a non-negative"):
        verify(BODY, h, SECRET, tolerance=-1)
    with pytest.raises(ValueError, match="now must be a non-negative"):
        verify(BODY, h, SECRET, now=-5)
    with pytest.raises(ValueError, match="timestamp must be a non-negative"):
        sign(BODY, SECRET, timestamp=-1)
    with pytest.raises(TypeError):
        verify(BODY, h, SECRET, now=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify(BODY, h, SECRET, tolerance="300")  # type: ignore[arg-type]
    for bad in (ValueError, TypeError):
        assert not issubclass(bad, WebhookVerificationError)


# --- bodies -------------------------------------------------------------------------------------------


def test_body_types() -> None:
    h = signed()
    event = verify(BODY, h, SECRET, now=NOW)
    for body in (bytearray(BODY), memoryview(BODY), BODY.decode()):
        assert verify(body, h, SECRET, now=NOW) == event
    ordered = collections.OrderedDict(reversed(list(event.items())))
    assert verify(ordered, h, SECRET, now=NOW) is ordered
    proxy = types.MappingProxyType(event)
    assert verify(proxy, h, SECRET, now=NOW) == event


def test_body_of_the_wrong_type() -> None:
    for body in (None, 5, [1], object()):
        with pytest.raises(WebhookVerificationError, match="raw request bytes") as caught:
            verify(body, signed(), SECRET)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_body"
    assert code_of(verify, "{\ud800}", signed(), SECRET) == "invalid_body"  # a str with no UTF-8
    assert code_of(verify, {"a": float("nan")}, signed(), SECRET) == "invalid_body"


def test_mismatch_messages() -> None:
    h = signed()
    event = verify(BODY, h, SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError) as parsed:
        verify({**event, "type": "listing.deleted"}, h, SECRET, now=NOW)
    message = str(parsed.value)
    assert parsed.value.code == "signature_mismatch"
    for hint in ("re-serialized", "await request.body()", "request.get_data()", "request.body"):
        assert hint in message
    with pytest.raises(WebhookVerificationError) as raw:
        verify(BODY + b"\n", h, SECRET, now=NOW)
    assert raw.value.code == "signature_mismatch"
    assert "raw request body" in str(raw.value) and "request.get_data()" not in str(raw.value)


def test_verified_non_object_bodies() -> None:
    for body, code in ((b"[1,2]", "invalid_envelope"), (b"", "invalid_json"), (b"{", "invalid_json"),
                       (b"\xff{}", "invalid_utf8")):
        h = sign(body, SECRET, timestamp=NOW)
        assert code_of(verify, body, h, SECRET, now=NOW) == code
        assert Webhook(SECRET).verify_delivery(body, h, now=NOW).scheme == "v2"


def test_sign_headers_for_a_sender() -> None:
    event = verify(BODY, signed(), SECRET, now=NOW)
    headers = sign(BODY, SECRET, timestamp=NOW)
    assert list(headers) == ["Content-Type", "X-Menon-Event", "X-Menon-Event-Id", "X-Menon-Timestamp", V1, V2]
    assert headers["Content-Type"] == "application/json"
    assert (headers["X-Menon-Event"], headers["X-Menon-Event-Id"]) == (event["type"], event["id"])
    assert headers["X-Menon-Timestamp"] == str(NOW)
    assert sign(event, SECRET, timestamp=NOW) == headers  # from the parsed body, the same
    given = sign(BODY, SECRET, timestamp=NOW, event_type="listing.sold", event_id="evt_9", delivery_id="log_1")
    assert (given["X-Menon-Event"], given["X-Menon-Event-Id"], given["X-Menon-Delivery"]) == (
        "listing.sold", "evt_9", "log_1")
    assert given[V2] == headers[V2]
    test = sign(BODY, SECRET, timestamp=NOW, test=True)  # a test delivery: one header more, last
    assert list(test) == [*headers, "X-Menon-Test"]
    assert test["X-Menon-Test"] == "true" and test[V1] == headers[V1]
    assert "X-Menon-Test" not in headers
    assert Webhook(SECRET).sign(BODY, timestamp=NOW, test=True) == test
    for not_an_event in (b"", b"[1]", b"\xff", b'{"type": 5}', b"x" * 10):
        assert set(sign(not_an_event, SECRET, timestamp=NOW)) == {"Content-Type", "X-Menon-Timestamp", V1, V2}


def test_sign_a_parsed_body_signs_its_canonical_form() -> None:
    value = {"b": [1.0, 2], "a": "é"}
    assert sign(value, SECRET, timestamp=NOW) == sign(canonicalize(value), SECRET, timestamp=NOW)
    assert canonicalize(value) == '{"a":"é","b":[1,2]}'


# --- verify_signature: a bool, never an exception ---------------------------------------------------


def test_verify_signature_never_raises() -> None:
    good = signed()[V1]
    assert menon_webhooks.verify_signature(BODY, good, SECRET) is True
    assert menon_webhooks.verify_signature(BODY.decode(), good.encode(), SECRET) is True
    assert menon_webhooks.verify_signature(bytearray(BODY), good, SECRET) is True
    weird: list[tuple[Any, Any, Any]] = [
        (None, None, None),
        (BODY, good, None),
        (BODY, good, ""),
        (BODY, good, b"whsec_x"),
        (BODY, good, [SECRET]),
        (BODY, None, SECRET),
        (BODY, 5, SECRET),
        (BODY, "sha256=zz", SECRET),
        (BODY, "md5=00", SECRET),
        (BODY, "", SECRET),
        (BODY, "\ud800", SECRET),
        (BODY, good, "\ud800"),
        ("\ud800", good, SECRET),
        ({"a": 1}, good, SECRET),
        (object(), good, SECRET),
        (5, good, SECRET),
        (BODY + b" ", good, SECRET),
        (BODY, good, OTHER_SECRET),
    ]
    for args in weird:
        assert menon_webhooks.verify_signature(*args) is False, args


# --- canonicalize from Python values -------------------------------------------------------------------


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [True, False, None]}, '{"a":[true,false,null],"b":1}'),
        ((1, "x", (2.5,)), '[1,"x",[2.5]]'),
        ({"\ufb33": 1, "\U0001f600": 2}, '{"\U0001f600":2,"\ufb33":1}'),
        ({"s": '"\\\n\x01\x7f\u2028é'}, '{"s":"\\"\\\\\\n\\u0001\x7f\u2028é"}'),
        # 2**60 is a double exactly; ECMAScript writes it with its shortest digits, zero-padded.
        ([2**53, -(2**53), 2**60, 10**20, 10**21], "[9007199254740992,-9007199254740992,1152921504606847000,100000000000000000000,1e+21]"),
        ([1.0, -0.0, 0.1, 1e-7, 0.000001, 1e21, 5e-324, 1.7976931348623157e308],
         "[1,0,0.1,1e-7,0.000001,1e+21,5e-324,1.7976931348623157e+308]"),
        ({"level": Level.HIGH, Name("k"): Name("v")}, '{"k":"v","level":3}'),
        (collections.OrderedDict([("z", 1), ("a", 2)]), '{"a":2,"z":1}'),
        (types.MappingProxyType({"y": {}, "x": []}), '{"x":[],"y":{}}'),
        ([], "[]"),
        (7, "7"),
        (None, "null"),
        (True, "true"),
    ],
)
def test_canonicalize_values(value: Any, expected: str) -> None:
    assert canonicalize(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"data": {"price": float("nan")}}, '["data"]["price"]'),
        ([float("inf")], "[0]"),
        ({"a": [1, -float("inf")]}, '["a"][1]'),
        ({"n": 2**53 + 1}, "9007199254740993 is beyond ±2^53"),
        ([-(2**53) - 1], "-9007199254740993"),
        ([10**400], "too large for an IEEE 754 double"),
        ({1: "x"}, "the key 1 is a int"),
        ({"a": {None: 1}}, "the key None"),
        ({(1, 2): 1}, "is a tuple"),
        ({"s": {1, 2}}, "a set has no JSON form"),
        ([b"raw"], "a bytes has no JSON form"),
        ([decimal.Decimal("1.5")], "a Decimal has no JSON form"),
        ([object()], "a object has no JSON form"),
        (float("nan"), "the top level"),
    ],
)
def test_canonicalize_refuses_what_json_cannot_hold(value: Any, fragment: str) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        canonicalize(value)
    assert caught.value.code == "invalid_body"
    assert fragment in str(caught.value)


def test_canonicalize_depth_and_cycles() -> None:
    deep: Any = []
    for _ in range(menon_webhooks.MAX_DEPTH - 1):
        deep = [deep]
    assert canonicalize(deep) == "[" * 128 + "]" * 128
    assert code_of(canonicalize, [deep]) == "invalid_body"
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(WebhookVerificationError, match="contains itself"):
        canonicalize(cycle)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert code_of(canonicalize, loop) == "invalid_body"


def test_canonicalize_lone_surrogates() -> None:
    # A Python str holding one has no UTF-8 form: invalid_body, as in the JS SDK…
    assert code_of(canonicalize, {"a": "\ud800"}) == "invalid_body"
    assert code_of(canonicalize, {"\udfff": 1}) == "invalid_body"
    assert code_of(canonicalize, '"\ud800"') == "invalid_body"
    # …while the escape in JSON text is the core's own refusal.
    assert code_of(canonicalize, '"\\ud800"') == "lone_surrogate"
    with pytest.raises(WebhookVerificationError, match=r'lone surrogate.*at \["a"\]'):
        canonicalize({"a": "\ud800"})


def test_canonicalize_text_arguments() -> None:
    assert canonicalize('{"b":1, "a":2}') == '{"a":2,"b":1}'
    assert canonicalize(b'{"b":1, "a":2}') == '{"a":2,"b":1}'
    assert canonicalize(bytearray(b"[1.50]")) == "[1.5]"
    assert canonicalize(memoryview(b"[1E3]")) == "[1000]"
    with pytest.raises(WebhookVerificationError, match="duplicate key") as caught:
        canonicalize('{"a":1,"a":2}')
    assert caught.value.code == "duplicate_key"


def test_canonicalize_survives_a_dict_changed_while_read() -> None:
    target: dict[str, Any] = {}

    class Sneaky(int):
        def __float__(self) -> float:
            target.clear()
            return float(int(self))

    target.update({"a": Sneaky(2**60), "b": 1})
    with pytest.raises(WebhookVerificationError, match="changed while it was being read"):
        canonicalize(target)


# --- error and result types ---------------------------------------------------------------------------


def test_error_type() -> None:
    error = WebhookVerificationError("signature_mismatch", "no secret matches")
    assert isinstance(error, ValueError) and error.code == "signature_mismatch"
    assert str(error) == "no secret matches"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, str(copy)) == (WebhookVerificationError, error.code, str(error))
    assert error.status == 401
    assert repr(error) == "WebhookVerificationError('signature_mismatch', 'no secret matches')"
    assert copy.status == 401


REPO = Path(__file__).resolve().parents[3]


def emitted_codes() -> set[str]:
    """Every code a WebhookVerificationError of this package can carry, read from the sources:
    the core's `code()` functions (core/src/error.rs) and the binding's own two codes
    (bindings/python/src/errors.rs)."""
    core = (REPO / "core" / "src" / "error.rs").read_text("utf-8")
    bodies = re.findall(r"pub const fn code\(&self\) -> &'static str \{(.*?)\n    \}", core, re.S)
    assert len(bodies) == 3, "VerifyError, CanonicalizeError, EnvelopeError: the parse is out of date"
    codes = {code for body in bodies for code in re.findall(r'=> "([a-z0-9_]+)"', body)}
    binding = (REPO / "bindings" / "python" / "src" / "errors.rs").read_text("utf-8")
    codes |= set(re.findall(r'pub\(crate\) const [A-Z_]+: &str = "([a-z0-9_]+)";', binding))
    assert {"no_secret", "signature_mismatch", "invalid_json", "invalid_envelope", "invalid_body"} <= codes
    return codes


def js_status() -> tuple[dict[str, int], int]:
    """The JS SDK's STATUS object and its default (bindings/js/src/errors.js), so that the two
    SDKs cannot drift apart. Parsed with regexes: a change of that file's shape fails here
    loudly (the asserts) rather than passing vacuously."""
    source = (REPO / "bindings" / "js" / "src" / "errors.js").read_text("utf-8")
    table = re.search(r"^const STATUS = \{\n(.*?)^\};", source, re.S | re.M)
    assert table, "no `const STATUS = {...};` in bindings/js/src/errors.js"
    entries = [line.strip() for line in table.group(1).splitlines()]
    entries = [line for line in entries if line and not line.startswith("//")]
    status = {}
    for line in entries:
        match = re.fullmatch(r"([a-z0-9_]+): (\d{3}),", line)
        assert match, f"unexpected line in the JS STATUS object: {line!r}"
        status[match.group(1)] = int(match.group(2))
    default = re.search(r"STATUS\[code\] \?\? (\d{3})", source)
    assert default, "no `STATUS[code] ?? <default>` in bindings/js/src/errors.js"
    assert len(status) >= 7
    return status, int(default.group(1))


def test_error_status_is_the_js_sdks_for_every_code() -> None:
    from menon_webhooks._errors import STATUS

    codes = emitted_codes()
    js, default = js_status()
    # One explicit entry per code the package raises, none for a code it does not.
    assert set(STATUS) == codes
    assert set(js) <= codes, "the JS SDK maps a code the Python SDK never raises"
    for code in sorted(codes):
        assert WebhookVerificationError(code, "m").status == js.get(code, default), code
    # The rule itself, as the issue states it: 401 signature, 500 no secret, 400 not an event.
    assert {c for c in codes if STATUS[c] == 401} == {
        "missing_signature", "unsupported_scheme", "malformed_signature", "signature_mismatch",
        "timestamp_too_old", "timestamp_in_future", "missing_header", "invalid_timestamp",
    }
    assert {c for c in codes if STATUS[c] == 500} == {"no_secret", "invalid_secret"}
    assert {STATUS[c] for c in codes} == {400, 401, 500}
    # A code an application made up answers the JS default too.
    assert WebhookVerificationError("made_up", "m").status == default == 400


def test_error_docstring_lists_every_code_with_its_status() -> None:
    from menon_webhooks._errors import STATUS

    doc = WebhookVerificationError.__doc__ or ""
    listed = set(re.findall(r"``([a-z][a-z0-9]*(?:_[a-z0-9]+)+)``", doc))
    assert listed == emitted_codes()
    groups = re.findall(r"^\s*- (\d{3}) for (.*?)(?=^\s*- \d{3}|^\s*$)", doc, re.S | re.M)
    assert [int(status) for status, _ in groups] == [401, 500, 400]
    for status, text in groups:
        codes = set(re.findall(r"``([a-z][a-z0-9]*(?:_[a-z0-9]+)+)``", text))
        assert codes == {c for c in STATUS if STATUS[c] == int(status)}, status


def test_raised_errors_carry_their_status() -> None:
    def status_of(call: Any, *args: Any, **kwargs: Any) -> int:
        with pytest.raises(WebhookVerificationError) as caught:
            call(*args, **kwargs)
        return caught.value.status

    assert status_of(verify, BODY, {}, SECRET, now=NOW) == 401
    assert status_of(verify, BODY, signed(secret=OTHER_SECRET), SECRET, now=NOW) == 401
    assert status_of(verify, b"[1]", signed(b"[1]"), SECRET, now=NOW) == 400
    assert status_of(verify, b"nope", signed(b"nope"), SECRET, now=NOW) == 400
    assert status_of(Webhook, "") == 500
    assert status_of(canonicalize, float("nan")) == 400


def test_verified_type() -> None:
    got = Webhook(SECRET).verify_delivery(BODY, signed(), now=NOW)
    assert isinstance(got, Verified)
    assert repr(got) == f"Verified(scheme='v2', secret_index=0, timestamp={NOW})"
    assert got == Webhook(SECRET).verify_delivery(BODY, signed(), now=NOW + 1)
    assert got != Webhook(SECRET).verify_delivery(BODY, {V1: signed()[V1]})
    with pytest.raises(AttributeError):
        got.scheme = "v1"  # type: ignore[misc]


def test_public_names() -> None:
    # The event TypedDicts (menon_webhooks.events): the envelope, the union, and for each type
    # its event and its data, e.g. ListingCreatedEvent and ListingCreatedData.
    typed = {"EventEnvelope", "WebhookEvent"} | {
        "".join(word.capitalize() for word in re.split(r"[._]", t)) + suffix
        for t in menon_webhooks.EVENT_TYPES
        for suffix in ("Event", "Data")
    }
    assert set(menon_webhooks.__all__) == {
        "DEFAULT_TOLERANCE", "EVENT_TYPES", "MAX_DEPTH", "StandardWebhook", "Verified", "Webhook",
        "WebhookVerificationError", "__version__", "canonicalize", "sign", "verify", "verify_signature",
    } | typed
    assert all(hasattr(menon_webhooks, name) for name in menon_webhooks.__all__)
    assert menon_webhooks.__version__ == "0.1.0"
    assert len(menon_webhooks.EVENT_TYPES) == 21 and menon_webhooks.EVENT_TYPES[0] == "listing.created"
    assert set(menon_webhooks.EVENT_TYPES) == {p.stem for p in EVENT_FILES}


# --- the GIL --------------------------------------------------------------------------------------------


def runs_python_meanwhile(work: Any) -> bool:
    """Runs `work` in a thread; whether this thread ran Python code while `work` was running.

    With the switch interval made far longer than the test, CPython hands the GIL to
    another thread only when its holder lets go of it (a blocking call, or native code that
    releases it). The worker lets go nowhere between marking itself inside `work` and
    leaving it, unless `work` releases the GIL: so this thread, which waits in short sleeps
    (releasing the GIL itself), can see the mark only then. No clock decides the outcome.
    """
    state = {"inside": False, "done": False}

    def worker() -> None:
        state["inside"] = True
        work()
        state["inside"] = False
        state["done"] = True

    interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        seen = False
        while not state["done"]:
            seen = seen or state["inside"]
            time.sleep(0.001)  # lets the worker take the GIL; paces the loop
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    return seen


def test_gil_is_released_while_hashing_large_bodies() -> None:
    big = bytes(64 << 20)  # 64 MiB: tens of milliseconds of hashing per call
    headers = sign(big, SECRET, timestamp=NOW)
    webhook = Webhook(SECRET)
    calls = [
        lambda: webhook.verify_delivery(big, headers, now=NOW),
        lambda: menon_webhooks.verify_signature(big, headers[V1], SECRET),
        lambda: sign(big, SECRET, timestamp=NOW),
    ]
    for call in calls:
        # Released, this thread gets the GIL while the hash runs, as soon as the OS runs it;
        # held, never. A few tries, in case a busy machine does not run it for a whole call.
        assert any(runs_python_meanwhile(call) for _ in range(5)), call


def test_a_call_holding_the_gil_is_not_seen_as_releasing_it() -> None:
    # The probe above on pure Python work, which holds the GIL: it must say so.
    assert not runs_python_meanwhile(lambda: sum(range(3_000_000)))
