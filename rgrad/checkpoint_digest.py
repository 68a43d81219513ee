"""Digests of checkpoint folders: written once a save is complete, checked before a restore.

A step folder ``checkpoints/<step>/`` gets a file :data:`DIGEST_FILE` listing every other file
in it (relative path, size, BLAKE2b-128 of the bytes), written after orbax has finished and
renamed the folder. Before a restore the folder is compared with its list: a flipped byte, a
truncated or missing file, or an extra one makes the checkpoint *damaged*, and the loop falls
back to the one before. A folder without the file (saved before digests existed, or a kill in
the moment between orbax's rename and the digest's) restores *unverified*, with a note.

Pure Python, no orbax: :func:`latest_intact` serves callers that only read a workdir.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sys

DIGEST_FILE = "rgrad_digest.json"
_FORMAT = 1
INTACT, UNVERIFIED, DAMAGED = "intact", "unverified", "damaged"


def file_digest(path: pathlib.Path) -> str:
    """BLAKE2b-128 of a file's bytes, as hex (read in 1 MiB blocks)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _files(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """Every regular file under ``folder`` by POSIX relative path, the digest file excluded."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not rel.startswith(DIGEST_FILE):  # also its temporary copy
            out[rel] = p
    return out


def write_digest(folder: str | pathlib.Path) -> dict:
    """List ``folder``'s files with sizes and digests in ``folder/DIGEST_FILE`` (atomically).

    Returns:
      The record written: ``{"format", "algorithm", "files": {path: {"size", "blake2b"}}}``.
    """
    folder = pathlib.Path(folder)
    record = {"format": _FORMAT, "algorithm": "blake2b-128",
              "files": {rel: {"size": p.stat().st_size, "blake2b": file_digest(p)}
                        for rel, p in _files(folder).items()}}
    tmp = folder / (DIGEST_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())  # on disk before the rename makes it the checkpoint's digest
    os.replace(tmp, folder / DIGEST_FILE)
    return record


def check(folder: str | pathlib.Path) -> tuple[str, str]:
    """Compare ``folder`` with its digest file.

    Returns:
      ``(INTACT, "")``; ``(UNVERIFIED, why)`` when there is no digest file; or
      ``(DAMAGED, what)`` naming up to three differing files (size or contents changed,
      missing, unexpected) or an unreadable digest file.
    """
    folder = pathlib.Path(folder)
    path = folder / DIGEST_FILE
    if not path.exists():
        return UNVERIFIED, f"no {DIGEST_FILE} (saved before digests, or killed just after)"
    try:
        listed = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return DAMAGED, f"its {DIGEST_FILE} is unreadable ({type(e).__name__})"
    present = _files(folder)
    problems = [f"{rel} is missing" for rel in listed if rel not in present]
    problems += [f"unexpected file {rel}" for rel in present if rel not in listed]
    for rel, want in listed.items():
        if rel not in present:
            continue
        size = present[rel].stat().st_size
        if size != want["size"]:
            cut = " (truncated)" if size < want["size"] else ""
            problems.append(f"{rel} has {size} bytes, {want['size']} expected{cut}")
        elif file_digest(present[rel]) != want["blake2b"]:
            problems.append(f"{rel}'s bytes differ from its digest")
    if not problems:
        return INTACT, ""
    more = f", and {len(problems) - 3} more" if len(problems) > 3 else ""
    return DAMAGED, "; ".join(problems[:3]) + more


def steps(directory: str | pathlib.Path) -> list[int]:
    """The complete (orbax-committed) step folders in ``directory``, newest first."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    found = [int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir()
             and (p / "commit_success.txt").exists()]
    return sorted(found, reverse=True)


def latest_intact(directory: str | pathlib.Path) -> tuple[int | None, list[str]]:
    """The newest step in ``directory`` that is intact or unverified, and why newer ones are not.

    Returns:
      ``(step or None, ["step 40: <what is damaged>", ...])``.
    """
    damaged = []
    for step in steps(directory):
        status, why = check(pathlib.Path(directory) / str(step))
        if status != DAMAGED:
            return step, damaged
        damaged.append(f"step {step}: {why}")
    return None, damaged


def main(argv: list[str]) -> int:
    """``python -m rgrad.checkpoint_digest CKPT_DIR``: print the newest intact step (what
    ``make snapshot`` copies); the damaged newer ones go to stderr; exit 1 when none."""
    if len(argv) != 2:
        print("usage: python -m rgrad.checkpoint_digest CHECKPOINTS_DIR", file=sys.stderr)
        return 2
    step, damaged = latest_intact(argv[1])
    for line in damaged:
        print(f"{argv[1]}: {line} (damaged, skipped)", file=sys.stderr)
    if step is None:
        return 1
    print(step)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
