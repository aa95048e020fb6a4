"""The Asterisk 22 root filesystem: built once with debootstrap, reused while its recipe holds.

Debian 12 ships no asterisk package; Debian's testing suite does. We debootstrap a minimal
testing root filesystem with the asterisk packages into the cache directory (outside the
checkout). The directory name carries a hash of the recipe (suite, packages, recipe version), so
changing the recipe builds a fresh one and an unchanged recipe reuses what is there. A build goes
to a temporary directory and is renamed into place only when complete, under a lock, so an
interrupted or concurrent build never leaves a half-built root filesystem in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from hotline.base.settings import Config

log = logging.getLogger(__name__)

RECIPE_VERSION = 1
PACKAGES = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en",
    "asterisk-moh-opsound-wav",
    "python3",  # runs the plain-AGI fail-safe (asterisk-config/agi-bin) with pyst2
    "python3-six",  # pyst2 needs it
)
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Debian 12's debootstrap has no script for testing's codename; sid's script builds it.
DEBOOTSTRAP_SCRIPT = Path("/usr/share/debootstrap/scripts/sid")
BUILD_TIMEOUT_S = 1800
MARKER = ".hotline-recipe"
"""Written by the build once debootstrap finished: a tree without it was not built here."""
# Where Asterisk (ours or Debian's default) keeps files that may be someone's only copy.
SPOOLS = ("srv/hotline/*/spool", "var/spool/asterisk")


class RootfsError(RuntimeError):
    """The root filesystem could not be built; the message says what to do."""


def recipe_hash(suite: str, packages: tuple[str, ...] = PACKAGES) -> str:
    # The mirror is not part of the recipe: any mirror gives the same packages.
    text = f"v{RECIPE_VERSION}|{suite}|{','.join(sorted(packages))}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rootfs_path(cfg: Config) -> Path:
    return cfg.paths.cache_dir / f"asterisk-rootfs-{recipe_hash(cfg.asterisk.suite)}"


def apt_mirror(etc_apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt already uses here (deb822 or one-line sources), else deb.debian.org."""
    candidates: list[str] = []
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and "security" not in suites.group(1):
                candidates.append(uris.group(1))
    lists = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
            if m and "security" not in m.group(2):
                candidates.append(m.group(1))
    for uri in candidates:
        if uri.startswith(("http://", "https://", "file:/")) and "/debian" in uri:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below path, deepest first (so they can be unmounted in order)."""
    prefix = str(path.resolve())
    found = []
    with open("/proc/mounts", encoding="utf-8") as fh:
        for line in fh:
            point = line.split()[1].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_tree(path: Path) -> None:
    """rm -rf that first unmounts anything mounted inside (never deletes through /proc)."""
    for point in mounts_under(path):
        subprocess.run(["umount", "-l", str(point)], check=False)
    if mounts_under(path):
        raise RootfsError(f"cannot remove {path}: still mounted inside")
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _lock(cache_dir: Path) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "asterisk-rootfs.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_complete(root: Path) -> bool:
    return (root / "usr/sbin/asterisk").exists() and (root / MARKER).exists()


def ensure_rootfs(cfg: Config) -> Path:
    """Path of a complete root filesystem for the configured recipe, building it if needed."""
    root = rootfs_path(cfg)
    if is_complete(root):
        return root
    with _lock(cfg.paths.cache_dir):
        if is_complete(root):  # another process built it while we waited
            return root
        _build(cfg, root)
    _remove_stale(cfg.paths.cache_dir, keep=root)
    return root


def _build(cfg: Config, root: Path) -> None:
    if os.geteuid() != 0:
        raise RootfsError("building the Asterisk root filesystem needs root (debootstrap, chroot)")
    if shutil.which("debootstrap") is None or not DEBOOTSTRAP_SCRIPT.exists():
        raise RootfsError("debootstrap is missing: run `make run` or `apt-get install debootstrap`")
    mirror = cfg.asterisk.mirror or apt_mirror()
    tmp = root.with_name(root.name + f".building-{os.getpid()}")
    if tmp.exists():
        remove_tree(tmp)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        cfg.asterisk.suite,
        str(tmp),
        mirror,
        str(DEBOOTSTRAP_SCRIPT),
    ]
    log.warning(
        "building the Asterisk root filesystem in %s from %s (about a minute)", root, mirror
    )
    started = time.monotonic()
    try:
        # A system tree: the engine's umask 077 would leave its folders root-only for no reason.
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, umask=0o022
        )
    except subprocess.TimeoutExpired:
        remove_tree(tmp)
        raise RootfsError(f"debootstrap from {mirror} took over {BUILD_TIMEOUT_S} s") from None
    if proc.returncode != 0 or not (tmp / "usr/sbin/asterisk").exists():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        debootstrap_log = tmp / "debootstrap/debootstrap.log"
        if debootstrap_log.exists():
            tail += "\n" + "\n".join(debootstrap_log.read_text(errors="replace").splitlines()[-15:])
        remove_tree(tmp)
        raise RootfsError(
            f"debootstrap of Debian {cfg.asterisk.suite} from {mirror} failed "
            f"(exit {proc.returncode}); set asterisk.mirror to a reachable Debian mirror.\n{tail}"
        )
    for point in mounts_under(tmp):  # debootstrap may leave proc/sys mounted
        subprocess.run(["umount", "-l", str(point)], check=False)
    (tmp / MARKER).write_text(
        f"suite={cfg.asterisk.suite}\npackages={','.join(PACKAGES)}\nmirror={mirror}\n"
        f"recipe={recipe_hash(cfg.asterisk.suite)}\n",
        encoding="utf-8",
    )
    if root.exists():  # an incomplete leftover from an older run
        files = _spool_files(root)
        if files:
            remove_tree(tmp)
            raise RootfsError(
                f"{root} is incomplete but holds files in its spool (e.g. {files[0]}); "
                "move them out (audio belongs under paths.audio_dir) and build again"
            )
        remove_tree(root)
    tmp.rename(root)
    log.warning("Asterisk root filesystem ready in %.0f s: %s", time.monotonic() - started, root)


def _spool_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in SPOOLS:
        for spool in root.glob(pattern):
            # Folders and links hold nothing; any other entry may be someone's only copy.
            found.extend(p for p in spool.rglob("*") if not (p.is_symlink() or p.is_dir()))
            if found:
                return found
    return found


def why_kept(path: Path) -> str | None:
    """Why a stale root filesystem must not be deleted, or None when it is safe to."""
    if path.is_symlink() or not path.is_dir():
        return "not a directory built here"
    if mounts_under(path):
        return "something is mounted inside (an instance may still use it)"
    if ".building-" in path.name:
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            return "someone is building it right now"
        if (path / "srv/hotline").exists():
            return "an unfinished build that an instance has used"
    elif not (path / MARKER).is_file():
        return f"no {MARKER}: not built by hotline"
    files = _spool_files(path)
    if files:
        return f"files in its spool (audio?), e.g. {files[0]}"
    return None


def _remove_stale(cache_dir: Path, keep: Path) -> None:
    """Old recipes' root filesystems are 500 MB each; remove those that hold only what the
    build put there (never audio, never a tree something has mounted or someone else made)."""
    for path in cache_dir.glob("asterisk-rootfs-*"):
        if path == keep:
            continue
        reason = why_kept(path)
        if reason is not None:
            log.warning("keeping stale Asterisk root filesystem %s: %s", path, reason)
            continue
        log.warning("removing stale Asterisk root filesystem %s", path)
        shutil.rmtree(path, ignore_errors=True)
