"""IVR prompts: recorded files where present, otherwise spoken by espeak-ng at setup.

Asterisk plays 8 kHz mono 16-bit WAV; espeak-ng speaks at 22 kHz, so sox resamples. A generated
prompt has a ``.generated`` note beside it with its text, and is spoken again when the text
changes; a prompt without that note was dropped in by people and is never overwritten:
replacing a prompt is dropping a file in its place.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# language dir -> (espeak-ng voice, {prompt name: text})
PROMPTS: dict[str, tuple[str, dict[str, str]]] = {
    "zh": (
        "cmn",
        {
            "greeting": "您好，12345热线。",
            "menu": "咨询请按1，求助投诉举报请按2，人工服务请按0。",
            "invalid": "输入有误。",
            "transfer": "正在为您转接，请稍候。",
            "goodbye": "感谢来电，再见。",
            "closed": "现在是非工作时间，请在提示音后留言。",
            "emergency": "正在为您转接紧急救援电话。",
            "position-before": "您前面还有",
            "position-after": "位来电。",
            "ewt-before": "预计等待",
            "minutes": "分钟。",
            "callback-offer": "如需保留排队位置并由我们回电，请按1。继续等待请按其他键。",
            "callback-ok": "好的，轮到您时我们会给您回电，再见。",
            "greeting-direct": "您好，12345热线。请用一句话说出您的诉求，马上为您转接。",
            "language": "普通话请按1。For English, press 2.",
            "ticket-enter": "请输入工单编号，以井号键结束。",
            "ticket-invalid": "工单编号有误，请核对后重新输入。",
            "ticket-unknown": "没有找到这个工单。",
            "ticket-unavailable": "暂时无法查询工单，请稍后再试。",
            "ticket-accepted": "您的工单已受理，正在派发。",
            "ticket-in-progress": "您的工单正在办理中。",
            "ticket-closed": "您的工单已办结。",
            "ticket-due": "办理期限是",
            "month": "月",
            "day": "日。",
            "failsafe": "抱歉，系统繁忙，请在提示音后留言，我们会尽快给您回电。",
            "satisfaction": "请对本次服务进行评价：满意请按1，基本满意请按2，不满意请按3。",
            "survey-satisfaction": "您好，这里是12345热线回访。您对所反映事项的办理结果，"
            "满意请按1，基本满意请按2，不满意请按3。",
            "survey-solved": "您反映的问题是否已经解决？已解决请按1，未解决请按2。",
            "thanks": "感谢您的评价，再见。",
        },
    ),
    "en": (
        "en",
        {
            "greeting": "Welcome to the 12345 hotline.",
            "menu": "For information press 1. For help or a complaint press 2. "
            "For an agent press 0.",
            "invalid": "Sorry, that key is not valid.",
            "transfer": "Please hold while we connect you.",
            "goodbye": "Thank you for calling. Goodbye.",
            "closed": "Our agents are not available now. Please leave a message after the "
            "tone and we will call you back.",
            "emergency": "Connecting you to emergency services now.",
            "position-before": "Callers ahead of you:",
            "position-after": ".",
            "ewt-before": "Estimated wait in minutes:",
            "minutes": ".",
            "callback-offer": "To keep your place and be called back, press 1. "
            "To keep waiting, press any other key.",
            "callback-ok": "Thank you. We will call you back when it is your turn. Goodbye.",
            "greeting-direct": "Welcome to the 12345 hotline. Please tell us in one sentence "
            "what you need; we are connecting you.",
            "language": "普通话请按1。For English, press 2.",
            "ticket-enter": "Please key in the ticket number, then the hash key.",
            "ticket-invalid": "That ticket number is not valid. Please check it and try again.",
            "ticket-unknown": "We could not find that ticket.",
            "ticket-unavailable": "Tickets cannot be looked up just now. Please try later.",
            "ticket-accepted": "Your ticket has been accepted and is being assigned.",
            "ticket-in-progress": "Your ticket is being handled.",
            "ticket-closed": "Your ticket has been closed.",
            "ticket-due": "It is due by month",
            "month": "day",
            "day": ".",
            "failsafe": "Sorry, our system is busy. Please leave a message after the tone and "
            "we will call you back.",
            "satisfaction": "Please rate our service. Satisfied, press 1. Basically satisfied, "
            "press 2. Not satisfied, press 3.",
            "survey-satisfaction": "This is the 12345 hotline following up your request. If you "
            "are satisfied with how it was handled, press 1; basically satisfied, press 2; "
            "not satisfied, press 3.",
            "survey-solved": "Was your problem solved? Yes, press 1. No, press 2.",
            "thanks": "Thank you for your rating. Goodbye.",
        },
    ),
}


class PromptError(RuntimeError):
    pass


def os_readlink(path: Path) -> str:
    return os.readlink(path)


def sounds_dir(rootfs: Path) -> Path:
    return rootfs / "usr/share/asterisk/sounds"


def in_root(rootfs: Path, inside: Path) -> Path:
    """Host path of `inside`, following symlinks as the chroot would (absolute links included).

    Debian points sounds/en at /etc/alternatives/..., which on the host would leave the chroot.
    """
    current = rootfs
    parts = list(inside.relative_to("/").parts)
    hops = 0
    while parts:
        candidate = current / parts.pop(0)
        if candidate.is_symlink():
            hops += 1
            if hops > 40:
                raise PromptError(f"symlink loop at {candidate}")
            target = Path(os_readlink(candidate))
            if target.is_absolute():
                current = rootfs
                parts = list(target.relative_to("/").parts) + parts
            else:
                parts = list(target.parts) + parts
            continue
        current = candidate.parent if candidate.name == ".." else candidate
        if candidate.name == "..":
            current = current.parent
    return current


def ensure_prompts(rootfs: Path, recorded_dir: Path | None = None) -> list[Path]:
    """Install recorded prompts, generate the missing ones; returns the files created."""
    created: list[Path] = []
    for lang, (voice, texts) in PROMPTS.items():
        target_dir = in_root(rootfs, Path("/usr/share/asterisk/sounds") / lang) / "hotline"
        target_dir.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            target = target_dir / f"{name}.wav"
            note = target.with_suffix(".generated")
            if target.exists() and not note.exists():
                continue  # a recorded prompt someone dropped in
            if target.exists() and note.read_text(encoding="utf-8") == text:
                continue
            recorded = recorded_dir / lang / f"{name}.wav" if recorded_dir else None
            if recorded is not None and recorded.exists():
                _to_asterisk_wav(recorded, target)
            else:
                speak(text, voice, target)
                note.write_text(text, encoding="utf-8")
            created.append(target)
    if created:
        log.info("installed %d IVR prompts under %s", len(created), sounds_dir(rootfs))
    return created


def speak(text: str, voice: str, target: Path) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise PromptError("espeak-ng and sox are needed to generate prompts: run `make run`")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        proc = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0 or not raw.exists():
            raise PromptError(f"espeak-ng -v {voice} failed: {proc.stderr.strip()}")
        _to_asterisk_wav(raw, target)


def _to_asterisk_wav(source: Path, target: Path) -> None:
    tmp = target.with_suffix(".tmp.wav")
    proc = subprocess.run(
        ["sox", str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(tmp)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise PromptError(f"sox could not convert {source}: {proc.stderr.strip()}")
    tmp.replace(target)
