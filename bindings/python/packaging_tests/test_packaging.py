"""What `pip install menon-webhooks` gets: the wheels' platform tags (maturin's, PyPA auditwheel's
and the glibc symbol versions the library actually needs), the metadata and licence files of the
wheel and the sdist, and the sdist built from scratch by pip in a fresh venv, then imported and run.

Run by bindings/python/test.sh after it built the artifacts (not by `pytest tests`: building the
sdist takes a minute or two):

    MENON_PY_WHEEL=<target>/wheels/menon_webhooks-*.whl   the manylinux wheel (`maturin build --zig`)
    MENON_PY_DIST=<target>/python-dist                     the sdist, and the musllinux wheel if built
"""

from __future__ import annotations

import email.message
import email.parser
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename
from trove_classifiers import classifiers as KNOWN_CLASSIFIERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest's and mypy's own dependency there
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
PYTHON_DIR = HERE.parent
REPO = PYTHON_DIR.parents[1]


def artifact_env(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run bindings/python/test.sh, which builds the artifacts")
    return Path(value)


WHEEL = artifact_env("MENON_PY_WHEEL")
DIST = artifact_env("MENON_PY_DIST")
SDISTS = sorted(DIST.glob("menon_webhooks-*.tar.gz"))
MUSL_WHEELS = sorted(DIST.glob("menon_webhooks-*musllinux*.whl"))
MUSL_TARGET = "x86_64-unknown-linux-musl"

PYPROJECT: dict[str, Any] = tomllib.loads((PYTHON_DIR / "pyproject.toml").read_text("utf-8"))
WORKSPACE: dict[str, Any] = tomllib.loads((REPO / "Cargo.toml").read_text("utf-8"))
VERSION = WORKSPACE["workspace"]["package"]["version"]
LICENCES = ("LICENSE-MIT", "LICENSE-APACHE")

# The libraries a manylinux wheel may link without bundling them (PEP 599/600's list, the part an
# x86_64 Rust cdylib can use).
MANYLINUX_LIBS = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
}
GLIBC_LIMIT = (2, 28)
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def run(
    *args: str | Path, timeout: float = 120, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def glibc_of(platform: str) -> tuple[int, int]:
    """(2, 28) for manylinux_2_28_x86_64; the legacy aliases too."""
    if m := re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform):
        return int(m[1]), int(m[2])
    if m := re.fullmatch(r"(manylinux\w+?)_x86_64", platform):
        return LEGACY_MANYLINUX[m[1]]
    raise AssertionError(f"not a manylinux x86_64 platform tag: {platform}")


def wheel_member(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(suffix)]
        assert len(names) == 1, (suffix, archive.namelist())
        return archive.read(names[0])


def wheel_tags(wheel: Path) -> tuple[set[Tag], email.message.Message]:
    """The tags of the wheel's filename, and its WHEEL file."""
    name, version, _, tags = parse_wheel_filename(wheel.name)
    assert (str(name), str(version)) == ("menon-webhooks", VERSION)
    return set(tags), email.parser.Parser().parsestr(wheel_member(wheel, ".dist-info/WHEEL").decode())


def native_library(wheel: Path, into: Path) -> Path:
    so = into / wheel.name / "_native.abi3.so"
    so.parent.mkdir(parents=True)
    so.write_bytes(wheel_member(wheel, "menon_webhooks/_native.abi3.so"))
    return so


def needed(so: Path) -> set[str]:
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run("readelf", "-d", so)))


def glibc_versions(so: Path) -> set[tuple[int, ...]]:
    """The GLIBC_x.y versions of the dynamic symbols the library imports (objdump -T)."""
    found = re.findall(r"\(GLIBC_([\d.]+)\)", run("objdump", "-T", so))
    return {tuple(int(p) for p in v.split(".")) for v in found}


# --- the manylinux wheel -----------------------------------------------------------------------------


def test_wheel_is_abi3_and_manylinux_2_28_or_older() -> None:
    tags, meta = wheel_tags(WHEEL)
    assert len(tags) == 1, tags
    (tag,) = tags
    assert (tag.interpreter, tag.abi) == ("cp39", "abi3"), tag
    assert glibc_of(tag.platform) <= GLIBC_LIMIT, tag
    # The WHEEL file says the same as the filename (pip reads the one, PyPI checks the other).
    assert {Tag(*t.split("-")) for t in meta.get_all("Tag") or []} == tags
    assert meta["Root-Is-Purelib"] == "false"
    assert meta["Generator"].startswith("maturin ")


def test_auditwheel_finds_the_wheel_manylinux_2_28_or_older() -> None:
    # PyPA's auditwheel, independent of the check maturin ran while building (which refuses a
    # wheel whose library needs a newer symbol than its tag allows).
    shown = " ".join(run(sys.executable, "-m", "auditwheel", "show", WHEEL).split())
    m = re.search(r'is consistent with the following platform tag: "(manylinux_\d+_\d+_x86_64)"', shown)
    assert m, shown
    assert glibc_of(m[1]) <= GLIBC_LIMIT, shown
    (tag,) = wheel_tags(WHEEL)[0]
    assert glibc_of(m[1]) <= glibc_of(tag.platform), (m[1], tag)


def test_native_library_needs_nothing_newer_than_glibc_2_28(tmp_path: Path) -> None:
    so = native_library(WHEEL, tmp_path)
    versions = glibc_versions(so)
    assert versions, "objdump -T found no GLIBC symbol versions: the parse is out of date"
    assert max(versions) <= GLIBC_LIMIT, sorted(versions)
    assert needed(so) <= MANYLINUX_LIBS, needed(so)
    assert "libpython" not in " ".join(needed(so))


def test_the_tests_ran_the_manylinux_wheel() -> None:
    # pytest tests ran the installed package: it must be this wheel's library, byte for byte.
    spec = importlib.util.find_spec("menon_webhooks._native")
    assert spec is not None and spec.origin is not None
    installed = Path(spec.origin).read_bytes()
    shipped = wheel_member(WHEEL, "menon_webhooks/_native.abi3.so")
    assert hashlib.sha256(installed).digest() == hashlib.sha256(shipped).digest()


# --- the musllinux wheel (where the toolchain has the musl target) ---------------------------------------


def musl_target_installed() -> bool:
    if shutil.which("rustup") is None:
        return False
    listed = subprocess.run(
        ["rustup", "target", "list", "--installed"], capture_output=True, text=True, check=False
    )
    return MUSL_TARGET in listed.stdout.split()


def test_musllinux_wheel_where_the_toolchain_allows(tmp_path: Path) -> None:
    # test.sh builds it when rustup has the musl target's standard library, and otherwise says
    # "musllinux wheel NOT BUILT" and builds none: then this checks that none was claimed.
    if not musl_target_installed():
        assert MUSL_WHEELS == [], MUSL_WHEELS
        return
    assert len(MUSL_WHEELS) == 1, MUSL_WHEELS
    (wheel,) = MUSL_WHEELS
    tags, meta = wheel_tags(wheel)
    assert {str(t) for t in tags} == {"cp39-abi3-musllinux_1_2_x86_64"}
    assert {Tag(*t.split("-")) for t in meta.get_all("Tag") or []} == tags
    so = native_library(wheel, tmp_path)
    # Linked against musl only (which loads `libc.so` as itself): no glibc symbol, no glibc library.
    assert needed(so) == {"libc.so"}, needed(so)
    assert glibc_versions(so) == set()


# --- metadata and licence files, in the wheel and the sdist ---------------------------------------------


def sdist() -> Path:
    assert len(SDISTS) == 1, f"expected one sdist in {DIST}: {SDISTS}"
    return SDISTS[0]


def sdist_members() -> dict[str, tarfile.TarInfo]:
    root = f"menon_webhooks-{VERSION}/"
    with tarfile.open(sdist()) as archive:
        members = archive.getmembers()
    assert all(m.name.startswith(root) for m in members), [m.name for m in members]
    return {m.name.removeprefix(root): m for m in members}


def sdist_file(path: str) -> bytes:
    with tarfile.open(sdist()) as archive:
        extracted = archive.extractfile(f"menon_webhooks-{VERSION}/{path}")
        assert extracted is not None, path
        return extracted.read()


def metadata_of(kind: str) -> email.message.Message:
    raw = wheel_member(WHEEL, ".dist-info/METADATA") if kind == "wheel" else sdist_file("PKG-INFO")
    return email.parser.Parser().parsestr(raw.decode("utf-8"))


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_metadata(kind: str) -> None:
    meta = metadata_of(kind)
    assert (meta["Name"], meta["Version"]) == ("menon-webhooks", VERSION)
    assert tuple(int(p) for p in meta["Metadata-Version"].split(".")) >= (2, 4)  # PEP 639
    assert meta["Requires-Python"] == ">=3.9"
    assert meta["License-Expression"] == "MIT OR Apache-2.0"
    assert meta["Summary"] and "Menon" in meta["Summary"]
    assert meta["Description-Content-Type"].startswith("text/markdown")
    assert str(meta.get_payload()).startswith("# menon-webhooks for Python")  # the README
    # Classifiers: each one PyPI knows, and those that say what the package is.
    classifiers = meta.get_all("Classifier") or []
    assert classifiers == PYPROJECT["project"]["classifiers"]
    assert set(classifiers) <= KNOWN_CLASSIFIERS, set(classifiers) - KNOWN_CLASSIFIERS
    # PEP 639: the licence is the expression; a "License ::" classifier beside it is refused.
    assert not [c for c in classifiers if c.startswith("License ::")]
    for version in ("3.9", "3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    for prefix in ("Development Status :: ", "Operating System :: ", "Topic :: ", "Intended Audience :: "):
        assert any(c.startswith(prefix) for c in classifiers), prefix
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL") or [])
    assert set(urls) == {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
    assert all(url.startswith("https://") for url in urls.values())
    assert urls["Repository"] == WORKSPACE["workspace"]["package"]["repository"]
    assert (meta.get_all("License-File") or []) == list(LICENCES)


def test_requires_python_is_the_abi3_floor() -> None:
    # The wheel is abi3 from CPython 3.9 (pyo3's abi3-py39): requires-python says the same.
    cargo = (PYTHON_DIR / "Cargo.toml").read_text("utf-8")
    assert '"abi3-py39"' in cargo
    assert PYPROJECT["project"]["requires-python"] == ">=3.9"


def test_licence_files_are_in_the_wheel() -> None:
    with zipfile.ZipFile(WHEEL) as archive:
        names = archive.namelist()
        for licence in LICENCES:
            path = f"menon_webhooks-{VERSION}.dist-info/licenses/{licence}"
            assert path in names, names
            assert archive.read(path) == (REPO / licence).read_bytes()


def test_licence_files_are_in_the_sdist() -> None:
    members = sdist_members()
    for licence in LICENCES:
        # Where PKG-INFO's License-File points (beside pyproject.toml), a file, not a link.
        assert members[licence].isfile(), licence
        assert sdist_file(licence) == (REPO / licence).read_bytes()


# --- the sdist -------------------------------------------------------------------------------------------


def test_sdist_holds_the_package_the_crate_and_the_core() -> None:
    members = sdist_members()
    for path in (
        "PKG-INFO", "pyproject.toml", "README.md", "Cargo.toml", "Cargo.lock",
        "bindings/python/Cargo.toml", "bindings/python/src/lib.rs",
        "core/Cargo.toml", "core/src/lib.rs",
        "python/menon_webhooks/__init__.py", "python/menon_webhooks/__init__.pyi",
        "python/menon_webhooks/py.typed", "python/menon_webhooks/_errors.py",
    ):
        assert path in members, path
    # Nothing from the harness, the JS SDK or target/: the workspace is cut down to what it needs.
    assert not [m for m in members if m.startswith(("harness/", "bindings/js/", "target/", "examples/"))]


def test_sdist_crates_resolve_inside_the_sdist_with_the_locked_versions(tmp_path: Path) -> None:
    with tarfile.open(sdist()) as archive:
        archive.extractall(tmp_path, filter="data")
    root = (tmp_path / f"menon_webhooks-{VERSION}").resolve()
    metadata = json.loads(
        run("cargo", "metadata", "--format-version", "1", "--manifest-path", root / "bindings/python/Cargo.toml")
    )
    local = [p for p in metadata["packages"] if p["source"] is None]
    assert {p["name"] for p in local} == {"menon-webhooks", "menon-webhooks-python"}
    for package in local:
        assert Path(package["manifest_path"]).resolve().is_relative_to(root), package["manifest_path"]
    # Every crate from crates.io at the version the repository's Cargo.lock pins.
    locked = {(p["name"], p["version"]) for p in tomllib.loads((REPO / "Cargo.lock").read_text())["package"]}
    resolved = {(p["name"], p["version"]) for p in metadata["packages"] if p["source"] is not None}
    assert resolved and resolved <= locked, resolved - locked


SMOKE = r"""
import json, sys
from pathlib import Path

import menon_webhooks
from menon_webhooks import Webhook, WebhookVerificationError, sign, verify

site, vectors_file, event_file = sys.argv[1:]
assert Path(menon_webhooks.__file__).resolve().is_relative_to(Path(site).resolve()), menon_webhooks.__file__
assert (Path(menon_webhooks.__file__).parent / "py.typed").is_file()

# A sign/verify round trip of a fixture event, and a tampered body refused with the JS status.
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
raw = Path(event_file).read_bytes()
headers = sign(raw, secret, timestamp=1_705_314_600)
assert verify(raw, headers, secret, now=1_705_314_600) == json.loads(raw)
try:
    verify(raw + b" ", headers, secret, now=1_705_314_600)
    raise AssertionError("a tampered body was accepted")
except WebhookVerificationError as error:
    assert (error.code, error.status) == ("signature_mismatch", 401), (error.code, error.status)

# The shared vectors (fixtures/vectors/signatures.json): every signing vector with a literal body.
vectors = json.loads(Path(vectors_file).read_text("utf-8"))
count = 0
for v in vectors["sign"]:
    if "body" in v:
        body = v["body"].encode("utf-8")
    elif "body_hex" in v:
        body = bytes.fromhex(v["body_hex"])
    else:
        continue
    got = sign(body, v["secrets"], timestamp=v["timestamp"])
    assert (got["X-Menon-Signature"], got["X-Menon-Signature-V2"]) == (v["v1"], v["v2"]), v["name"]
    found = Webhook(v["secrets"]).verify_delivery(
        body, {"X-Menon-Signature-V2": v["v2"]}, now=v["timestamp"]
    )
    assert (found.scheme, found.secret_index) == ("v2", 0), v["name"]
    count += 1
assert count >= 10, count
print(f"sdist smoke: round trip ok, {count} shared signing vectors ok")
"""


def test_sdist_builds_from_scratch_in_a_fresh_venv(tmp_path: Path) -> None:
    # pip unpacks the sdist into a temporary folder, fetches the build backend (maturin, from
    # PyPI) into an isolated environment and builds with cargo: a fresh target dir (nothing
    # compiled is reused), crates from cargo's own download cache.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MATURIN_", "PIP_CONSTRAINT", "VIRTUAL_ENV"))}
    env |= {"CARGO_TARGET_DIR": str(tmp_path / "target"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    started = time.monotonic()
    run(python, "-m", "pip", "install", "--quiet", sdist(), timeout=1200, env=env, cwd=tmp_path)
    built_in = time.monotonic() - started
    # A build from source makes a wheel for this machine: pip's PEP 517 build passes maturin
    # `--compatibility off` (the linux tag), whatever pyproject.toml asks of release wheels.
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])").strip())
    wheel_file = (site / f"menon_webhooks-{VERSION}.dist-info" / "WHEEL").read_text()
    assert "Tag: cp39-abi3-linux_x86_64" in wheel_file, wheel_file
    # Imported and run from outside the repository (-I: no cwd, no PYTHONPATH, no user site).
    out = run(
        python, "-I", "-c", SMOKE, site,
        REPO / "fixtures" / "vectors" / "signatures.json",
        REPO / "fixtures" / "events" / "listing.created.json",
        cwd=tmp_path,
    )
    assert "sdist smoke: round trip ok" in out, out
    print(f"sdist built and installed in {built_in:.0f} s; {out.strip()}")
