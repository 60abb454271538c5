"""Check a batch offline, as the prosecutor does: the signature, then every file against the manifest.

``bconnect verify-export DIR --public-key FILE`` (the plugin's command), or
without a deployment at all::

    python -m plugins.kejaksaan_export.verify DIR --public-key kejaksaan-export.pub

Each problem is one line naming the file: changed, missing, added, a bad
signature, or a public key other than the one that signed. Exit status 0
when there is none, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

from plugins.kejaksaan_export import signing

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # base64 of the Ed25519 signature of manifest.json's bytes
FORMAT = "bconnect-kejaksaan-export"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path, public_key: signing.Ed25519PublicKey) -> list[str]:
    """Every problem of the batch in ``folder``, one line each; ``[]``: intact and signed by ``public_key``."""
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    manifest_path, sig_path = folder / MANIFEST, folder / SIGNATURE
    if not manifest_path.is_file():
        return [f"{MANIFEST}: missing: nothing can be checked without it"]
    raw = manifest_path.read_bytes()
    problems: list[str] = []
    try:
        manifest = json.loads(raw)
        files = {entry["path"]: entry for entry in manifest["files"]}
        if not all(isinstance(p, str) and isinstance(e, dict) for p, e in files.items()):
            raise TypeError("a file entry that is not a path with its hash")
        signer = manifest["signer"]["public_key_sha256"]
        if manifest.get("format") != FORMAT:
            problems.append(f"{MANIFEST}: format {manifest.get('format')!r}, not {FORMAT!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({type(exc).__name__}: {exc}): changed after signing?"]
    given = signing.fingerprint(public_key)
    if not sig_path.is_file():
        problems.append(f"{SIGNATURE}: missing: the manifest is unsigned")
    else:
        try:
            signature = base64.b64decode(sig_path.read_bytes().strip(), validate=True)
        except ValueError:
            signature = b""
        if not signing.valid(public_key, signature, raw):
            if signer != given:
                problems.append(f"wrong public key: the batch names signer {signer[:16]}..., the key given is "
                                f"{given[:16]}...; use the deployment's published key")
            else:
                problems.append(f"bad signature: {MANIFEST} was changed after signing, or {SIGNATURE} is damaged")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}
    present -= {MANIFEST, SIGNATURE}
    for path in sorted(files):
        target = folder / path
        if path.startswith("/") or ".." in Path(path).parts:
            problems.append(f"{path[:80]}: not a path inside the batch")
        elif path not in present:
            problems.append(f"{path}: missing")
        elif target.is_symlink() or file_sha256(target) != files[path].get("sha256"):
            problems.append(f"{path}: changed (its SHA-256 differs from the manifest's)")
    for path in sorted(present - set(files)):
        problems.append(f"{path}: added (not in the manifest)")
    return problems


def report(folder: Path, public_key_file: Path, out=None) -> int:
    """Print the verdict (to ``out``, default standard output); the exit status."""
    out = out or sys.stdout
    try:
        key = signing.load_public(public_key_file)
    except signing.BadKey as exc:
        print(f"error: {exc}", file=out)
        return 1
    problems = verify(folder, key)
    for line in problems:
        print(f"FAIL {line}", file=out)
    if problems:
        print(f"{folder}: {len(problems)} problem(s): do not accept this batch", file=out)
        return 1
    manifest = json.loads((folder / MANIFEST).read_text())
    print(f"{folder}: ok: batch {manifest.get('batch')}, {manifest.get('cases')} case(s), "
          f"{len(manifest['files'])} file(s), signed by {signing.fingerprint(key)[:16]}...", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verify-export", description="check a Kejaksaan export batch offline")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--public-key", type=Path, required=True, help="the deployment's published public key (PEM)")
    args = parser.parse_args(argv)
    return report(args.folder, args.public_key)


if __name__ == "__main__":
    sys.exit(main())
