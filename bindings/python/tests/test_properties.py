"""canonicalize() of random Python values agrees with an implementation we did not write (PyPI
rfc8785), and verify() accepts what sign() makes and refuses any one-byte change. Seeded, so a
failure reproduces; the failing value is printed."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pytest
import rfc8785
from data import SECRET

import menon_webhooks

SAFE = 2**53 - 1


def random_string(rng: random.Random) -> str:
    alphabet = [
        lambda: chr(rng.randrange(0x20, 0x7F)),
        lambda: chr(rng.randrange(0, 0x20)),
        lambda: rng.choice('"\\/'),
        lambda: chr(rng.randrange(0xA0, 0xD800)),
        lambda: chr(rng.randrange(0xE000, 0x10000)),
        lambda: chr(rng.randrange(0x10000, 0x110000)),
    ]
    return "".join(rng.choice(alphabet)() for _ in range(rng.randrange(0, 12)))


def random_float(rng: random.Random) -> float:
    while True:
        pick = rng.randrange(4)
        if pick == 0:
            x = struct.unpack("<d", rng.randbytes(8))[0]  # any bit pattern
        elif pick == 1:
            x = rng.uniform(-1e6, 1e6)
        elif pick == 2:
            x = rng.choice([1e-7, 1e21, 1e-6, 123e20, 5e-324, 0.1, -0.0]) * rng.choice([1, -1, 3])
        else:
            x = round(rng.uniform(-1000, 1000), rng.randrange(0, 4))
        if math.isfinite(x):
            return x


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] * (5 - depth) if depth < 5 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return random_string(rng)
    if kind == "int":
        return rng.choice([rng.randrange(-1000, 1000), rng.randrange(-SAFE, SAFE + 1)])
    if kind == "float":
        return random_float(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {random_string(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 6))}


@pytest.mark.parametrize("seed", range(20))
def test_canonicalize_agrees_with_rfc8785(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        value = {random_string(rng): random_value(rng, 1) for _ in range(6)}
        expected = rfc8785.dumps(value).decode("utf-8")
        assert menon_webhooks.canonicalize(value) == expected, repr(value)
        # Through JSON text (any formatting) the answer is the same.
        assert menon_webhooks.canonicalize(json.dumps(value, indent=1)) == expected, repr(value)


@pytest.mark.parametrize("seed", range(5))
def test_any_changed_byte_is_refused(seed: int) -> None:
    rng = random.Random(seed)
    body = menon_webhooks.canonicalize({"data": random_value(rng), "id": "evt_1"}).encode()
    headers = menon_webhooks.sign(body, SECRET, timestamp=1_705_314_600)
    webhook = menon_webhooks.Webhook(SECRET)
    assert webhook.verify_delivery(body, headers, now=1_705_314_600).scheme == "v2"
    for _ in range(30):
        i = rng.randrange(len(body))
        changed = body[:i] + bytes([body[i] ^ (1 << rng.randrange(8))]) + body[i + 1 :]
        for only in ("X-Menon-Signature", "X-Menon-Signature-V2"):
            with pytest.raises(menon_webhooks.WebhookVerificationError) as caught:
                webhook.verify_delivery(changed, {only: headers[only]}, now=1_705_314_600)
            assert caught.value.code == "signature_mismatch"
