"""Vosk models: check a model's layout, install one from a zip or a directory, and remember
which model serves which language (``<models_dir>/installed.json``).

Nothing is downloaded: these machines cannot reach the model hosts, so an operator brings the
official zip (or an unpacked directory) and ``hotline speech install-model`` checks it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

# Official zips whose checksum we know: a file of that name must match it.
KNOWN_ZIPS = {
    "vosk-model-small-cn-0.22.zip": (
        "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba"
    ),
}
REGISTRY = "installed.json"
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$")
# Files every Vosk (Kaldi nnet3) model needs; the decoding graph comes in one of two forms.
ESSENTIAL = ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf")
GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
# The large Mandarin model unpacks to about 2 GB; refuse archives claiming much more (zip bomb).
MAX_UNPACKED = 8 * 1024**3
MAX_MEMBERS = 10_000


class SpeechError(Exception):
    """Speech intake cannot do what was asked; the message says why."""


class ModelError(SpeechError):
    """A Vosk model is missing, incomplete, corrupt or could not be installed."""


@dataclass(frozen=True, slots=True)
class InstalledModel:
    lang: str
    name: str
    path: str
    source: str
    sha256: str
    """Of the zip it came from; empty for a directory."""
    installed_at: str


def missing_files(model_dir: Path) -> list[str]:
    """The essential files a model directory lacks (empty list: the layout is complete)."""
    missing = [f for f in ESSENTIAL if not _non_empty(model_dir / f)]
    if not any(all(_non_empty(model_dir / f) for f in graph) for graph in GRAPHS):
        missing.append("graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst")
    return missing


def check_model_dir(model_dir: Path) -> None:
    """Raise ModelError naming what is wrong with a model directory."""
    if not model_dir.is_dir():
        raise ModelError(f"no Vosk model at {model_dir}: the directory does not exist")
    missing = missing_files(model_dir)
    if missing:
        raise ModelError(f"{model_dir} is not a complete Vosk model: missing {', '.join(missing)}")


def _non_empty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def find_model_root(tree: Path) -> Path:
    """The model inside an unpacked tree: the tree itself or its one top-level folder."""
    if (tree / "am").is_dir():
        return tree
    subdirs = [p for p in tree.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    if len(subdirs) == 1 and (subdirs[0] / "am").is_dir():
        return subdirs[0]
    return tree


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install_model(
    source: Path, lang: str, models_dir: Path, sha256: str | None = None
) -> InstalledModel:
    """Check and install a model from a zip or a directory; record it for ``lang``.

    ``sha256``: the checksum the zip must have; a zip named like an official one is checked
    against the known checksum anyway. The model is unpacked beside its final place and renamed
    into it, so a failed install leaves the previous model untouched.
    """
    if not LANG_RE.match(lang):
        raise ModelError(f"{lang!r} is not a language code like zh or en")
    source = Path(source)
    if not source.exists():
        raise ModelError(f"{source} does not exist")
    models_dir.mkdir(parents=True, exist_ok=True)
    digest = ""
    with tempfile.TemporaryDirectory(prefix=".install-", dir=models_dir) as tmp:
        staging = Path(tmp) / "unpacked"
        if source.is_dir():
            shutil.copytree(source, staging)
            default_name = source.resolve().name
        elif zipfile.is_zipfile(source):
            digest = _verify_zip(source, sha256)
            _extract(source, staging)
            default_name = source.name.removesuffix(".zip")
        else:
            raise ModelError(f"{source} is neither a directory nor a zip archive")
        root = find_model_root(staging)
        missing = missing_files(root)
        if missing:
            raise ModelError(f"{source} does not hold a Vosk model: missing {', '.join(missing)}")
        name = root.name if root != staging else default_name
        if name.lower() in ("model", "models", "unpacked"):  # say which model it is
            name = f"vosk-model-{lang}"
        target = models_dir / _safe_name(name)
        _replace_dir(root, target, Path(tmp))
    entry = InstalledModel(
        lang=lang,
        name=target.name,
        path=str(target.resolve()),
        source=str(source.resolve()),
        sha256=digest,
        installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _write_registry(models_dir, {**installed_models(models_dir), lang: entry})
    return entry


def _verify_zip(path: Path, expected: str | None) -> str:
    digest = sha256_of(path)
    known = KNOWN_ZIPS.get(path.name)
    for want, why in ((expected, "the checksum given"), (known, f"the official {path.name}")):
        if want and digest != want.lower():
            raise ModelError(
                f"{path}: sha256 {digest} does not match {why} ({want.lower()}); "
                "the file is damaged or not the expected model"
            )
    return digest


def _extract(archive: Path, dest: Path) -> None:
    """Unpack a zip refusing absolute paths, '..', links and absurd sizes."""
    dest.mkdir()
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ModelError(f"{archive}: {len(members)} entries is too many for a model")
        if sum(m.file_size for m in members) > MAX_UNPACKED:
            raise ModelError(f"{archive}: unpacks to more than {MAX_UNPACKED >> 30} GiB")
        for member in members:
            rel = _member_path(archive, member)
            if rel is None:
                continue
            out = dest.joinpath(*rel.parts)
            if member.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(member) as src, out.open("xb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise ModelError(f"{archive}: cannot unpack {member.filename}: {exc}") from None


def _member_path(archive: Path, member: zipfile.ZipInfo) -> PurePosixPath | None:
    name = member.filename.replace("\\", "/")
    rel = PurePosixPath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in rel.parts:
        raise ModelError(f"{archive}: unsafe entry {member.filename!r} (outside the model)")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise ModelError(f"{archive}: entry {member.filename!r} is a symbolic link")
    parts = [p for p in rel.parts if p not in ("", ".")]
    if not parts or parts[0] == "__MACOSX":  # macOS zip clutter, not part of the model
        return None
    return PurePosixPath(*parts)


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._") or "model"
    return cleaned[:100]


def _replace_dir(new: Path, target: Path, scratch: Path) -> None:
    # rename() is atomic on one filesystem: readers see the old model or the new, never half.
    old = scratch / "previous"
    if target.exists():
        target.rename(old)
    try:
        new.rename(target)
    except OSError:
        if old.exists():
            old.rename(target)
        raise


def installed_models(models_dir: Path) -> dict[str, InstalledModel]:
    """Language -> installed model, from the registry (empty when there is none)."""
    path = models_dir / REGISTRY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {lang: InstalledModel(**entry) for lang, entry in data.items()}
    except FileNotFoundError:
        return {}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path} is unreadable ({exc}); reinstall the models") from None


def _write_registry(models_dir: Path, entries: dict[str, InstalledModel]) -> None:
    data = {lang: asdict(entry) for lang, entry in sorted(entries.items())}
    fd, tmp = tempfile.mkstemp(prefix=".installed-", dir=models_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the engine may run as another user
    os.replace(tmp, models_dir / REGISTRY)
