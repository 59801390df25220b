"""Standard Webhooks (issue 18): menon_webhooks.StandardWebhook beside PyPI standardwebhooks,
the hmac idiom and cryptography's Ed25519, in one process, with ratios.

    bindings/python/test.sh --bench --quick     # builds the release wheel into the cached venv
                                                # (and runs bench/bench.py, a separate bench)
    PY=$(ls -d ~/.cache/menon-webhooks/venv-py-*/bin/python)
    $PY bindings/python/bench/standard.py [--quick] [--json FILE]
    $PY bindings/python/bench/standard.py --merge FILE...   # the tables over runs saved with
                                                            # --json: median per figure, ratio ranges

Bodies of 256 B, 1 KiB, 16 KiB, 64 KiB and 256 KiB (a JSON event padded to size), as bytes
(what the frameworks hand a receiver); headers a dict with lowercase names; the timestamp is
now, and every verifier reads the clock.

v1 (HMAC-SHA256, whsec_ secret):
  - ours: StandardWebhook(secret).verify(body, headers);
  - standardwebhooks.Webhook(secret).verify(body, headers), as its README shows;
  - the idiom: the three headers read, the timestamp checked, hmac.new(key, b"id.ts." + body,
    hashlib.sha256).digest(), base64.b64encode, each "v1," entry compared with
    hmac.compare_digest.
  Ours and the official Webhook both return the payload parsed (json.loads), so the idiom is
  timed with json.loads too (the like-for-like floor); json_parse=False and the idiom without
  parsing are printed for reference.
v1a (Ed25519, whpk_ made from a cryptography key pair):
  - ours: StandardWebhook(whpk).verify(body, headers);
  - cryptography: the same header parsing and timestamp check, the "v1a," entry
    base64-decoded, Ed25519PublicKey.verify(sig, content) on a key loaded once, then
    json.loads (like for like); Ed25519PublicKey.verify alone over prepared content too.

Every verifier is checked to accept the message and to refuse a tampered one before it is
timed. Each case is timed in batches of calls (>= 0.1 s per batch, 0.02 s with --quick), the
cases interleaved round by round (15 rounds, 5 with --quick) so that a noisy machine's drift
hits all alike; each figure is the median time per call over the rounds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Any

import standardwebhooks
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import menon_webhooks
from menon_webhooks import StandardWebhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_KEY = base64.b64decode(SECRET[len("whsec_"):])
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SIZES = [256, 1024, 16 * 1024, 64 * 1024, 256 * 1024]
TOLERANCE = 300


def payload_of(size: int) -> bytes:
    """A JSON event of exactly `size` bytes (the same as bindings/js/bench/standard.mjs)."""
    head, tail = b'{"data":{"note":"', b'"},"id":"evt_bench","type":"user.created"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def idiom_headers(headers: Mapping[str, str]) -> tuple[str, str, str] | None:
    """webhook-id, webhook-timestamp, webhook-signature, the timestamp checked."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if not (msg_id and ts and signature):
        return None
    try:
        t = int(ts)
    except ValueError:
        return None
    if abs(time.time() - t) > TOLERANCE:
        return None
    return msg_id, ts, signature


def hmac_idiom(key: bytes, body: bytes, headers: Mapping[str, str]) -> bool:
    """The hand-written v1 receiver."""
    parsed = idiom_headers(headers)
    if parsed is None:
        return False
    msg_id, ts, signature = parsed
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac)
    for entry in signature.split(" "):
        scheme, _, value = entry.partition(",")
        if scheme == "v1" and hmac.compare_digest(value.encode(), expected):
            return True
    return False


def ed25519_idiom(public: Ed25519PublicKey, body: bytes, headers: Mapping[str, str]) -> bool:
    """The hand-written v1a receiver with cryptography."""
    parsed = idiom_headers(headers)
    if parsed is None:
        return False
    msg_id, ts, signature = parsed
    content = f"{msg_id}.{ts}.".encode() + body
    for entry in signature.split(" "):
        scheme, _, value = entry.partition(",")
        if scheme != "v1a":
            continue
        sig = base64.b64decode(value)
        if len(sig) != 64:
            continue
        try:
            public.verify(sig, content)
        except InvalidSignature:
            continue
        return True
    return False


def accepts(fn: Callable[[], object]) -> bool:
    try:
        return fn() is not False
    except Exception:
        return False


def measure(cases: dict[str, Callable[[], object]], rounds: int, batch_time: float) -> dict[str, float]:
    """Median seconds per call of each case, cases interleaved round by round."""
    numbers = {}
    for name, fn in cases.items():
        number, took = timeit.Timer(fn).autorange()
        numbers[name] = max(1, int(number * batch_time / max(took, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            n = numbers[name]
            samples[name].append(timeit.Timer(fn).timeit(n) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} µs"


def label(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def headers_of(msg_id: str, t: int, signature: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(t), "webhook-signature": signature}


def tamper(headers: dict[str, str]) -> dict[str, str]:
    return dict(headers, **{"webhook-id": headers["webhook-id"] + "x"})


Rows = list[tuple[int, dict[str, float]]]
Run = dict[str, Rows]


def merged(runs: list[Run], part: str) -> Rows:
    """The median over runs of each case's figure, per size."""
    return [(size, {name: statistics.median(r[part][i][1][name] for r in runs) for name in t})
            for i, (size, t) in enumerate(runs[0][part])]


def table(title: str, runs: list[Run], part: str) -> list[str]:
    rows = merged(runs, part)
    out = [title, "", "| verifier | " + " | ".join(label(s) for s, _ in rows) + " |",
           "|---|" + "|".join("---:" for _ in rows) + "|"]
    for name in rows[0][1]:
        out.append(f"| {name} | " + " | ".join(us(t[name]) for _, t in rows) + " |")
    return out


def ratios(runs: list[Run], part: str, pairs: list[tuple[str, str, str]]) -> list[str]:
    """a / b per run: the median over runs, and with several runs their range."""
    sizes = [s for s, _ in runs[0][part]]
    out = ["", "| ratio | " + " | ".join(label(s) for s in sizes) + " | target |",
           "|---|" + "|".join("---:" for _ in sizes) + "|---|"]
    for a, b, target in pairs:
        cells = []
        for i in range(len(sizes)):
            per = [r[part][i][1][a] / r[part][i][1][b] for r in runs]
            spread = f" ({min(per):.2f}-{max(per):.2f})" if len(per) > 1 else ""
            cells.append(f"{statistics.median(per):.2f}x{spread}")
        out.append(f"| {a} / {b} | " + " | ".join(cells) + f" | {target} |")
    return out


def run(rounds: int, batch: float) -> Run:
    """One run: the median seconds per call of every case at every size."""
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    whpk = "whpk_" + base64.b64encode(public_raw).decode()
    public = Ed25519PublicKey.from_public_bytes(public_raw)

    ours_v1 = StandardWebhook(SECRET)
    theirs_v1 = standardwebhooks.Webhook(SECRET)
    ours_v1a = StandardWebhook(whpk)

    v1_rows: Rows = []
    v1a_rows: Rows = []
    for size in SIZES:
        body = payload_of(size)
        now = int(time.time())
        signed = theirs_v1.sign(MSG_ID, datetime.fromtimestamp(now, tz=timezone.utc), body.decode())
        assert ours_v1.sign(MSG_ID, now, body) == signed, "v1 signatures differ"
        h1 = headers_of(MSG_ID, now, signed)
        v1: dict[str, Callable[[], object]] = {
            "ours": lambda: ours_v1.verify(body, h1),
            "standardwebhooks": lambda: theirs_v1.verify(body, h1),
            "idiom + json.loads": lambda: hmac_idiom(SECRET_KEY, body, h1) and json.loads(body),
            "standardwebhooks, json_parse=False": lambda: (
                theirs_v1.verify(body, h1, json_parse=False) is None
            ),
            "idiom, no parse": lambda: hmac_idiom(SECRET_KEY, body, h1),
        }
        bad1 = tamper(h1)
        for name, fn in v1.items():
            assert accepts(fn), f"v1 {name} refused a good message at {label(size)}"
        assert ours_v1.verify(body, h1) == theirs_v1.verify(body, h1) == json.loads(body)
        assert not accepts(lambda: ours_v1.verify(body, bad1)), "v1 ours accepted a tampered message"
        assert not accepts(lambda: theirs_v1.verify(body, bad1)), "v1 official accepted a tampered message"
        assert not hmac_idiom(SECRET_KEY, body, bad1), "v1 idiom accepted a tampered message"
        v1_rows.append((size, measure(v1, rounds, batch)))

        content = f"{MSG_ID}.{now}.".encode() + body
        sig_bytes = private.sign(content)
        h2 = headers_of(MSG_ID, now, "v1a," + base64.b64encode(sig_bytes).decode())

        def verify_alone() -> bool:
            public.verify(sig_bytes, content)
            return True

        v1a: dict[str, Callable[[], object]] = {
            "ours": lambda: ours_v1a.verify(body, h2),
            "cryptography idiom + json.loads": lambda: ed25519_idiom(public, body, h2) and json.loads(body),
            "cryptography idiom, no parse": lambda: ed25519_idiom(public, body, h2),
            "cryptography verify() alone": verify_alone,
        }
        bad2 = tamper(h2)
        for name, fn in v1a.items():
            assert accepts(fn), f"v1a {name} refused a good message at {label(size)}"
        assert ours_v1a.verify(body, h2) == json.loads(body)
        assert not accepts(lambda: ours_v1a.verify(body, bad2)), "v1a ours accepted a tampered message"
        assert not ed25519_idiom(public, body, bad2), "v1a idiom accepted a tampered message"
        v1a_rows.append((size, measure(v1a, rounds, batch)))

    return {"v1": v1_rows, "v1a": v1a_rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write the medians (seconds) as JSON")
    parser.add_argument("--merge", metavar="FILE", nargs="+",
                        help="measure nothing: the tables over runs saved with --json (median per "
                             "figure, ratio ranges)")
    args = parser.parse_args()
    rounds, batch = (5, 0.02) if args.quick else (15, 0.1)

    if args.merge:
        runs: list[Run] = []
        for name in args.merge:
            with open(name) as f:
                data = json.load(f)
            runs.append({part: [(row["len"], row["t"]) for row in data[part]] for part in ("v1", "v1a")})
        print(f"median of {len(runs)} runs ({', '.join(args.merge)}); ratio ranges over the runs\n")
    else:
        runs = [run(rounds, batch)]
        if args.json:
            with open(args.json, "w") as f:
                json.dump({part: [{"len": s, "t": t} for s, t in rows] for part, rows in runs[0].items()}, f)

    lines = table("### v1 verify (median per call; every row returns the parsed payload unless it says "
                  "\"no parse\")", runs, "v1")
    lines += ["", "v1 ratios: their time / ours (above 1: we are faster)"]
    lines += ratios(runs, "v1", [("standardwebhooks", "ours", ">= 2x"),
                                 ("idiom + json.loads", "ours", "(floor)"),
                                 ("standardwebhooks, json_parse=False", "ours", "(theirs not parsing)")])
    lines += [""] + table("### v1a verify (median per call)", runs, "v1a")
    lines += ["", "v1a ratio: our time / cryptography idiom + json.loads (at most 1.2x is the target)"]
    lines += ratios(runs, "v1a", [("ours", "cryptography idiom + json.loads", "<= 1.2x"),
                                  ("ours", "cryptography verify() alone", "")])
    print("\n".join(lines))
    quick = "" if args.merge else f"; {rounds} rounds{' (quick)' if args.quick else ''}"
    print(f"\nmenon_webhooks {menon_webhooks.__version__}, CPython {platform.python_version()}, "
          f"{platform.machine()}; standardwebhooks {version('standardwebhooks')}, cryptography "
          f"{version('cryptography')}{quick}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
