"""Shared data of the Python SDK's tests: the repository's fixtures, read as every binding reads
them (fixtures/vectors/*.json, fixtures/events/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
SIGNATURES: dict[str, Any] = json.loads((FIXTURES / "vectors" / "signatures.json").read_text("utf-8"))
CANONICAL: dict[str, Any] = json.loads((FIXTURES / "vectors" / "canonicalize.json").read_text("utf-8"))
EVENT_FILES = sorted((FIXTURES / "events").glob("*.json"))

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_0123456789abcdefghijklmnopqrstuv"
NOW = 1_705_314_600


def generated(seed: int, length: int) -> bytes:
    """signatures.json's generators.seeded: byte i is ALPHABET[(seed + 31 i) mod 64]."""
    return bytes(ord(ALPHABET[(seed + i * 31) % 64]) for i in range(length))


def body_of(vector: dict[str, Any]) -> bytes:
    """The signed bytes of a vector: exactly one of body, body_hex, body_generate."""
    kinds = [k for k in ("body", "body_hex", "body_generate") if k in vector]
    assert len(kinds) == 1, vector["name"]
    if "body" in vector:
        return str(vector["body"]).encode("utf-8")
    if "body_hex" in vector:
        return bytes.fromhex(vector["body_hex"])
    gen = vector["body_generate"]
    return generated(int(gen["seed"]), int(gen["length"]))


def input_of(case: dict[str, Any]) -> bytes:
    """The input bytes of a canonicalize.json case: input (UTF-8 text) or input_hex."""
    if "input_hex" in case:
        return bytes.fromhex(case["input_hex"])
    return str(case["input"]).encode("utf-8")


def event_bytes(path: Path) -> bytes:
    return path.read_bytes()
