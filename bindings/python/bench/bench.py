"""The Python SDK against what a receiver would otherwise use, side by side, with ratios.

    bindings/python/test.sh --bench          # builds the release wheel into the test venv, runs this
    python bench/bench.py [--quick]          # with menon_webhooks, rfc8785, standardwebhooks installed

verify: bodies of 256 B, 1 KiB, 16 KiB and 256 KiB (canonical JSON events, padded to size)
  - menon_webhooks.verify_signature(body, sig, secret): the docs' verify_webhook shape (v1);
  - menon_webhooks.Webhook(secret).verify_delivery(body, headers): v2, headers looked up, the
    timestamp checked (what the framework helpers do, without parsing);
  - the docs' idiom: hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() compared with
    hmac.compare_digest(f"sha256={expected}", signature);
  - hmac.digest(key, body, "sha256") + hmac.compare_digest (the stdlib's one-shot fast path);
  - standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False);
  - and, as the floor no HMAC can beat, hashlib.sha256(body).digest() (OpenSSL, SHA-NI here);
  and, parsing too: Webhook.verify (returns the event) against standardwebhooks' verify with
  json_parse=True and the docs' idiom followed by json.loads.
canonicalize: a 1 KiB and a 16 KiB event, from the parsed dict, against PyPI rfc8785.dumps and
  json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False).

Each case is timed in batches of calls (timeit's autorange: >= 0.1 s per batch on this size of
machine, fewer in --quick), the cases interleaved round by round so that drift of a noisy machine
hits all of them alike; the figure is the median time per call over the rounds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rfc8785
import standardwebhooks

import menon_webhooks

EVENTS = Path(__file__).resolve().parents[3] / "fixtures" / "events"
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()  # valid for both libraries
SIZES = [256, 1024, 16 * 1024, 256 * 1024]


def docs_verify_webhook(payload: bytes, signature: str, secret: str) -> bool:
    """The docs' Python example, verbatim in substance."""
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)


def digest_verify(payload: bytes, signature: str, key: bytes) -> bool:
    return hmac.compare_digest("sha256=" + hmac.digest(key, payload, "sha256").hex(), signature)


def event_of_size(size: int) -> bytes:
    """A canonical envelope of exactly `size` bytes: a fixture event with a padded note."""
    name = "listing.created" if size > 2048 else "listing.published"
    base = json.loads((EVENTS / f"{name}.json").read_bytes())
    if size < 800:
        base = {"created_at": base["created_at"], "data": {"listing_id": "lst_7fK3nQ9wXa"},
                "id": base["id"], "type": base["type"]}
    base["data"]["note"] = ""
    empty = len(menon_webhooks.canonicalize(base).encode())
    assert empty <= size, (size, empty)
    base["data"]["note"] = "x" * (size - empty)
    body = menon_webhooks.canonicalize(base).encode()
    assert len(body) == size
    return body


def event_16k() -> dict[str, Any]:
    """A 16 KiB event of realistic shape: a page of listings (nested objects, numbers, text)."""
    listing = json.loads((EVENTS / "listing.created.json").read_bytes())["data"]["listing"]
    page: list[dict[str, Any]] = []
    event: dict[str, Any] = {"created_at": "2025-03-04T08:15:42Z", "data": {"listings": page},
                             "id": "evt_01JNP4K7Q2R8XW3M5T6Y9ZB1CD", "type": "listing.updated"}
    while len(menon_webhooks.canonicalize(event)) < 16 * 1024:
        item = json.loads(json.dumps(listing))
        item["id"] = f"lst_{len(page):010d}"
        item["price"] = 68900 - 250 * len(page) + 0.5
        page.append(item)
    return event


def measure(cases: dict[str, Callable[[], object]], rounds: int, batch_time: float) -> dict[str, float]:
    """Median seconds per call of each case, cases interleaved round by round."""
    numbers = {}
    for name, fn in cases.items():
        assert fn(), f"{name} did not verify"  # every case must do real, successful work
        number, took = timeit.Timer(fn).autorange()
        numbers[name] = max(1, int(number * batch_time / max(took, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            n = numbers[name]
            samples[name].append(timeit.Timer(fn).timeit(n) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def label(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a smoke run)")
    args = parser.parse_args()
    rounds, batch = (5, 0.02) if args.quick else (15, 0.1)

    key = SECRET.encode()
    ours = menon_webhooks.Webhook(SECRET)
    theirs = standardwebhooks.Webhook(SECRET)
    lines: list[str] = []
    checks: list[tuple[str, bool]] = []

    # --- verify ------------------------------------------------------------------------------------
    lines += [
        "### verify (median per call; ratio = their time / ours, above 1 means we are faster)",
        "",
        "| body | `verify_signature` | `Webhook.verify_delivery` (v2) | docs idiom `hmac.new` | "
        "`hmac.digest` | `standardwebhooks` | idiom / ours | `hmac.digest` / ours | "
        "`standardwebhooks` / `verify_delivery` | floor: `hashlib.sha256` alone |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    parse_rows = []
    for size in SIZES:
        body = event_of_size(size)
        now = int(time.time())
        headers = menon_webhooks.sign(body, SECRET, timestamp=now)
        sig = headers["X-Menon-Signature"]
        sw_headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
        sw_headers["webhook-signature"] = theirs.sign("msg_1", _utc(now), body.decode())
        cases: dict[str, Callable[[], object]] = {
            "verify_signature": lambda: menon_webhooks.verify_signature(body, sig, SECRET),
            "verify_delivery": lambda: ours.verify_delivery(body, headers),
            "idiom": lambda: docs_verify_webhook(body, sig, SECRET),
            "digest": lambda: digest_verify(body, sig, key),
            "standardwebhooks": lambda: theirs.verify(body, sw_headers, json_parse=False) is None,
            "verify": lambda: ours.verify(body, headers),
            "standardwebhooks+parse": lambda: theirs.verify(body, sw_headers),
            "idiom+json.loads": lambda: docs_verify_webhook(body, sig, SECRET) and json.loads(body),
            "sha256": lambda: hashlib.sha256(body).digest(),
        }
        t = measure(cases, rounds, batch)
        mine = t["verify_signature"]
        lines.append(
            f"| {label(size)} | {us(mine)} | {us(t['verify_delivery'])} | {us(t['idiom'])} | "
            f"{us(t['digest'])} | {us(t['standardwebhooks'])} | **{t['idiom'] / mine:.2f}x** | "
            f"{t['digest'] / mine:.2f}x | {t['standardwebhooks'] / t['verify_delivery']:.2f}x | "
            f"{us(t['sha256'])} |"
        )
        parse_rows.append(
            f"| {label(size)} | {us(t['verify'])} | {us(t['standardwebhooks+parse'])} | "
            f"{us(t['idiom+json.loads'])} | {t['standardwebhooks+parse'] / t['verify']:.2f}x | "
            f"{t['idiom+json.loads'] / t['verify']:.2f}x |"
        )
        if size == 1024:
            checks.append((f"verify at 1 KiB >= 1.8x the hmac.new idiom: {t['idiom'] / mine:.2f}x",
                           t["idiom"] / mine >= 1.8))
        # At large sizes both sides run the same SHA-NI instructions at the same speed, so the
        # ratio tends to 1.00 and a 2% band is this machine's round-to-round noise.
        checks.append((f"verify at {label(size)} not slower than the idiom (noise band 2%): "
                       f"{t['idiom'] / mine:.2f}x", t["idiom"] / mine >= 0.98))
    lines += [
        "",
        "### verify and parse (the event as a dict)",
        "",
        "| body | `Webhook.verify` | `standardwebhooks` (json_parse) | idiom + `json.loads` | "
        "`standardwebhooks` / ours | idiom+loads / ours |",
        "|---|---|---|---|---|---|",
        *parse_rows,
    ]

    # --- canonicalize ------------------------------------------------------------------------------
    lines += [
        "",
        "### canonicalize a parsed event (dict -> RFC 8785 text)",
        "",
        "| event | `menon_webhooks.canonicalize` | `rfc8785.dumps` | `json.dumps(sort_keys=True, …)` | "
        "rfc8785 / ours | json.dumps / ours |",
        "|---|---|---|---|---|---|",
    ]
    small = json.loads((EVENTS / "listing.created.json").read_bytes())
    for name, event in (("1 KiB: listing.created", small), ("16 KiB: a page of listings", event_16k())):
        assert menon_webhooks.canonicalize(event).encode() == rfc8785.dumps(event)
        cases = {
            "ours": lambda: menon_webhooks.canonicalize(event),
            "rfc8785": lambda: rfc8785.dumps(event),
            "dumps": lambda: json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        }
        t = measure(cases, rounds, batch)
        size = len(menon_webhooks.canonicalize(event).encode())
        lines.append(
            f"| {name}, {size:,} B | {us(t['ours'])} | {us(t['rfc8785'])} | {us(t['dumps'])} | "
            f"**{t['rfc8785'] / t['ours']:.1f}x** | **{t['dumps'] / t['ours']:.2f}x** |"
        )
        checks.append((f"canonicalize {name.split(':')[0]} >= 5x rfc8785: {t['rfc8785'] / t['ours']:.1f}x",
                       t["rfc8785"] / t["ours"] >= 5))
        checks.append((f"canonicalize {name.split(':')[0]} not slower than json.dumps: "
                       f"{t['dumps'] / t['ours']:.2f}x", t["dumps"] / t["ours"] >= 1.0))

    print(f"menon_webhooks {menon_webhooks.__version__}, CPython {platform.python_version()}, "
          f"{platform.machine()}, {_cpu()}, {os.cpu_count()} cores; rfc8785 "
          f"{_version('rfc8785')}, standardwebhooks {_version('standardwebhooks')}; "
          f"{rounds} rounds{' (quick)' if args.quick else ''}\n")
    print("\n".join(lines))
    print("\n### targets\n")
    for text, met in checks:
        print(f"- [{'x' if met else ' '}] {text}")
    return 0


def _utc(unix: int) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(unix, tz=timezone.utc)


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
