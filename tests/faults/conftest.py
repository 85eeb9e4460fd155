"""Fault-injection fixtures: a real, tiny filesystem (tmpfs) that can be filled and freed again.

``FAULT_ROUNDS`` (environment) scales the randomized tests: the default keeps the suite to about a
minute inside ``make test``; ``make faults`` runs many more rounds.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def fault_rounds(default: int) -> int:
    """How many rounds a randomized fault test runs (FAULT_ROUNDS wins over the test's default)."""
    return int(os.environ.get("FAULT_ROUNDS") or default)


class TinyFS:
    """A mounted tmpfs of a few hundred KiB; :meth:`fill` takes every free byte, :meth:`free` gives it back."""

    def __init__(self, mount: Path):
        self.mount = mount
        self.filler = mount / "filler"

    def fill(self) -> None:
        """Write a filler file until the filesystem reports ENOSPC: the disk is now full."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            block = b"\0" * 4096
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
            while True:  # the last partial page
                try:
                    if os.write(fd, b"\0") == 0:
                        break
                except OSError:
                    break
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _mount_tmpfs(path: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(
            "a real full disk needs a tmpfs mount, and mounting needs root: run the suite as root "
            "(the injected-writer tests cover the same code without it)"
        )
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): a container without CAP_SYS_ADMIN"
        )


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[TinyFS]:
    mount = tmp_path / "tinyfs"
    _mount_tmpfs(mount, "512k")
    try:
        yield TinyFS(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
