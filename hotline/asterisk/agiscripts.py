"""Plain AGI scripts that Asterisk runs itself (the fail-safe), installed into its root
filesystem together with pyst2, the library they use.

The scripts live in asterisk-config/agi-bin/. pyst2 is pure Python: its package is copied from
the engine's own environment (a dependency in pyproject.toml) to /usr/local/lib/hotline-agi
inside the root filesystem, where the scripts look for it; the root filesystem's Debian python3
and python3-six run it. Copies are refreshed on every start, so an upgrade reaches Asterisk.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

AGI_BIN = Path("usr/share/asterisk/agi-bin")
PYST2_DIR = Path("usr/local/lib/hotline-agi")


class AgiScriptError(RuntimeError):
    pass


def pyst2_package() -> Path:
    spec = importlib.util.find_spec("asterisk.agi")
    if spec is None or spec.origin is None:
        raise AgiScriptError("pyst2 is not installed (pip install pyst2): the fail-safe needs it")
    return Path(spec.origin).parent


def ensure_agi_scripts(rootfs: Path, source: Path) -> list[Path]:
    """Copy pyst2 and every script in ``source`` into the root filesystem; the scripts."""
    target_lib = rootfs / PYST2_DIR / "asterisk"
    if target_lib.exists():
        shutil.rmtree(target_lib)
    shutil.copytree(pyst2_package(), target_lib, ignore=shutil.ignore_patterns("__pycache__"))
    bin_dir = rootfs / AGI_BIN
    bin_dir.mkdir(parents=True, exist_ok=True)
    installed = []
    for script in sorted(source.glob("*.py")):
        dest = bin_dir / script.name
        shutil.copyfile(script, dest)
        dest.chmod(0o755)
        installed.append(dest)
    return installed
