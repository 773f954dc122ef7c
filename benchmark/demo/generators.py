"""The demo's attacks: real speech generators that no one in this project wrote.

Text-to-speech from Debian packages (espeak-ng, flite, festival) speaks fixed sentences;
vocoders (WORLD via pyworld, Griffin-Lim via librosa, LPC via scipy) copy-synthesise bona fide
clips. Each attack has an id, a corpus (``A``: seen in training; ``A2``: a held-out variant of an
``A`` generator; ``B``: families disjoint from ``A``'s) and a family. Workers call :func:`run_task` on batches of :class:`ClipJob`; every clip, bona fide
or spoof, leaves through :func:`finish_clip` (shape, loudness-normalise, atomic FLAC).
"""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, normalise_loudness, resample, shape_clip, write_flac_atomic

#: espeak-ng voice variants per split of corpus A (so TTS "speakers" do not cross splits).
ESPEAK_VOICES = {
    "train": ("en-us+m1", "en-us+m3", "en-us+f2", "en+m2", "en+f1", "en-gb-x-rp+m4"),
    "dev": ("en-us+m5", "en+f3"),
    "eval": ("en-us+m7", "en+f4", "en-029+m6"),
}
FESTIVAL_VOICES = {"ked": "voice_ked_diphone", "slt_hts": "voice_cmu_us_slt_arctic_hts"}


@dataclass(frozen=True)
class Attack:
    """One spoofing system of the demo."""

    id: str
    corpus: str                 # "A" (training) | "A2" (held-out variant of A) | "B" (unseen families)
    family: str                 # generator family; A's and B's are disjoint
    kind: str                   # "tts" | "vocoder"
    tool: str                   # executable or Python module it needs
    voices: tuple[str, ...] = ()
    description: str = ""


ATTACKS: tuple[Attack, ...] = (
    Attack("espeak_ng", "A", "formant-tts", "tts", "espeak-ng", ("split-specific",),
           "espeak-ng formant synthesis, English voice variants"),
    Attack("flite_kal", "A", "flite-diphone-tts", "tts", "flite", ("kal",),
           "flite diphone voice kal (8 kHz, upsampled)"),
    Attack("flite_kal16", "A", "flite-diphone-tts", "tts", "flite", ("kal16",),
           "flite diphone voice kal16"),
    Attack("world", "A", "world-vocoder", "vocoder", "pyworld", (),
           "WORLD (pyworld) analysis/synthesis of a bona fide clip"),
    Attack("world_shifted", "A2", "world-vocoder", "vocoder", "pyworld", (),
           "WORLD with unseen settings: 10 ms frames, F0 raised 20 %, spectral envelope warped 8 % up"),
    Attack("flite_awb", "B", "flite-clustergen-tts", "tts", "flite", ("awb",),
           "flite clustergen voice awb"),
    Attack("flite_rms", "B", "flite-clustergen-tts", "tts", "flite", ("rms",),
           "flite clustergen voice rms"),
    Attack("flite_slt", "B", "flite-clustergen-tts", "tts", "flite", ("slt",),
           "flite clustergen voice slt"),
    Attack("festival_ked", "B", "festival-diphone-tts", "tts", "festival", ("ked",),
           "festival diphone voice ked (festvox-kdlpc16k)"),
    Attack("festival_slt_hts", "B", "festival-hts-tts", "tts", "festival", ("slt_hts",),
           "festival HTS voice cmu_us_slt_arctic_hts (32 kHz, downsampled)"),
    Attack("griffin_lim", "B", "griffin-lim-vocoder", "vocoder", "librosa", (),
           "Griffin-Lim phase reconstruction (librosa) of a bona fide STFT magnitude"),
    Attack("lpc", "B", "lpc-vocoder", "vocoder", "scipy", (),
           "LPC resynthesis: all-pole envelope driven by pulse/noise excitation"),
)
ATTACKS_BY_ID = {a.id: a for a in ATTACKS}


@dataclass(frozen=True)
class ClipJob:
    """One clip to produce. ``source`` is a vendored bona fide FLAC (bona fide and vocoders)."""

    utt_id: str
    out_path: str               # absolute
    attack: str                 # attack id or "bonafide"
    max_seconds: float
    gain_db: float
    seed: int
    source: str = ""
    text: str = ""
    voice: str = ""
    rate: float = 1.0


@dataclass(frozen=True)
class ClipResult:
    utt_id: str
    num_samples: int
    error: str = ""


@dataclass
class Task:
    """A batch of jobs of one attack, run in one worker call."""

    attack: str
    jobs: list[ClipJob] = field(default_factory=list)


# --------------------------------------------------------------------------- tool versions

def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"missing ({err.__class__.__name__})"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else f"exit {out.returncode}"


def _festival_voice_dirs() -> list[str]:
    found = []
    for root in ("/usr/share/festival/voices", "/usr/local/share/festival/voices"):
        base = Path(root)
        if base.is_dir():
            found += sorted(str(p.relative_to(base)) for p in base.glob("*/*") if p.is_dir())
    return found


def generator_versions() -> dict[str, object]:
    """Versions of every generator and library the clips depend on (for the cache key)."""
    versions: dict[str, object] = {}
    for tool, cmd in (("espeak-ng", ["espeak-ng", "--version"]), ("flite", ["flite", "--version"]),
                      ("festival", ["festival", "--version"])):
        versions[tool] = _first_line(cmd) if shutil.which(tool) else "missing"
    versions["festival_voices"] = _festival_voice_dirs()
    for lib in ("numpy", "scipy", "soundfile", "librosa", "pyworld"):
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = "missing"
    return versions


# --------------------------------------------------------------------------- TTS

def _run(cmd: list[str], what: str) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"{what} exited {out.returncode}: {(out.stderr or out.stdout).strip()[:300]}")


def _read(path: Path) -> np.ndarray:
    import soundfile as sf

    if not path.is_file() or path.stat().st_size <= 44:
        raise RuntimeError(f"generator wrote no audio to {path.name}")
    wave, rate = sf.read(path, dtype="float64", always_2d=False)
    if len(wave) == 0:
        raise RuntimeError(f"generator wrote an empty file {path.name}")
    return resample(wave, rate, SAMPLE_RATE)


def synth_espeak(text: str, voice: str, rate: float, tmp: Path, seed: int) -> np.ndarray:
    pitch = 35 + seed % 31
    wav = tmp / "espeak.wav"
    _run(["espeak-ng", "-v", voice, "-s", str(int(round(165 * rate))), "-p", str(pitch),
          "-w", str(wav), text], "espeak-ng")
    return _read(wav)


def synth_flite(text: str, voice: str, rate: float, tmp: Path) -> np.ndarray:
    wav = tmp / "flite.wav"
    _run(["flite", "-voice", voice, "--setf", f"duration_stretch={1.0 / rate:.3f}", "-t", text,
          "-o", str(wav)], f"flite -voice {voice}")
    return _read(wav)


def synth_festival_batch(jobs: list[ClipJob], tmp: Path) -> list[np.ndarray]:
    """One festival process for a batch: each job's text with its voice and duration stretch."""
    lines = []
    outputs = []
    for k, job in enumerate(jobs):
        wav = tmp / f"festival_{k}.wav"
        text = job.text.replace("\\", " ").replace('"', "'")
        lines.append(f"({FESTIVAL_VOICES[job.voice]})")
        lines.append(f"(Parameter.set 'Duration_Stretch {1.0 / job.rate:.3f})")
        lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{wav}" \'riff)')
        outputs.append(wav)
    script = tmp / "batch.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _run(["festival", "-b", str(script)], "festival")
    return [_read(wav) for wav in outputs]


# --------------------------------------------------------------------------- vocoders

def vocode_world(wave: np.ndarray, frame_period: float = 5.0, f0_scale: float = 1.0,
                 warp: float = 1.0) -> np.ndarray:
    """WORLD analysis (DIO + StoneMask, CheapTrick, D4C) and synthesis with ``frame_period`` ms
    frames; ``f0_scale`` multiplies F0 and ``warp`` > 1 stretches the spectral envelope upwards."""

    with warnings.catch_warnings():  # pyworld imports the deprecated pkg_resources (setuptools<81)
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        import pyworld

    x = np.ascontiguousarray(wave, dtype=np.float64)
    f0, times = pyworld.dio(x, SAMPLE_RATE, frame_period=frame_period)
    f0 = pyworld.stonemask(x, f0, times, SAMPLE_RATE)
    envelope = pyworld.cheaptrick(x, f0, times, SAMPLE_RATE)
    aperiodicity = pyworld.d4c(x, f0, times, SAMPLE_RATE)
    if warp != 1.0:
        bins = np.arange(envelope.shape[1], dtype=np.float64)
        envelope = np.ascontiguousarray(np.stack([np.interp(bins / warp, bins, row) for row in envelope]))
    out = pyworld.synthesize(np.ascontiguousarray(f0 * f0_scale), envelope, aperiodicity, SAMPLE_RATE,
                             frame_period)
    return out[:len(x)]


def vocode_griffin_lim(wave: np.ndarray, seed: int) -> np.ndarray:
    """Discard the phase of a 32 ms / 8 ms-hop STFT and rebuild it with 32 Griffin-Lim iterations."""
    import librosa

    magnitude = np.abs(librosa.stft(wave, n_fft=512, hop_length=128))
    return librosa.griffinlim(magnitude, n_iter=32, hop_length=128, n_fft=512, length=len(wave),
                              random_state=np.random.RandomState(seed % 2**32))


def vocode_lpc(wave: np.ndarray, seed: int, order: int = 18) -> np.ndarray:
    """Order-18 LPC envelope per 25 ms frame driving a pulse train (voiced) or noise (unvoiced).

    The residual is thrown away: F0 comes from frame autocorrelation (60–400 Hz), the gain
    from the prediction error; frames are overlap-added with a Hann window (50 % overlap).
    """
    from scipy.linalg import solve_toeplitz
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    frame, hop = 400, 200
    window = np.hanning(frame)
    n_frames = max(1, 1 + (len(wave) - frame) // hop)
    out = np.zeros(n_frames * hop + frame)
    phase = 0.0
    lag_lo, lag_hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60
    for i in range(n_frames):
        seg = wave[i * hop:i * hop + frame]
        if len(seg) < frame:
            seg = np.pad(seg, (0, frame - len(seg)))
        seg = seg * window
        ac = np.correlate(seg, seg, mode="full")[frame - 1:]
        if ac[0] <= 1e-10:
            continue
        ac_reg = ac[:order + 1].copy()
        ac_reg[0] *= 1.0 + 1e-6
        a = solve_toeplitz(ac_reg[:order], -ac_reg[1:order + 1])
        poly = np.concatenate(([1.0], a))
        gain = np.sqrt(max(float(np.dot(poly, ac_reg)), 1e-12) / frame)
        lag = lag_lo + int(np.argmax(ac[lag_lo:lag_hi]))
        voiced = ac[lag] / ac[0] > 0.35
        if voiced:
            period = float(lag)
            excitation = np.zeros(frame)
            pos = phase
            while pos < frame:
                excitation[int(pos)] = np.sqrt(period)
                pos += period
            phase = pos - hop  # keep pulses continuous across the overlap
            if phase < 0:
                phase = 0.0
        else:
            excitation = rng.standard_normal(frame)
            phase = 0.0
        out[i * hop:i * hop + frame] += window * lfilter([gain], poly, excitation)
    return out[:len(wave)]


# --------------------------------------------------------------------------- workers

def finish_clip(wave: np.ndarray, job: ClipJob) -> int:
    """Shape, normalise and write one clip; returns its number of samples."""
    wave = shape_clip(wave, job.max_seconds)
    if len(wave) < SAMPLE_RATE // 2:
        raise RuntimeError(f"only {len(wave)} samples of speech after trimming")
    write_flac_atomic(Path(job.out_path), normalise_loudness(wave, job.gain_db))
    return len(wave)


def _source(job: ClipJob) -> np.ndarray:
    import soundfile as sf

    wave, rate = sf.read(job.source, dtype="float64", always_2d=False)
    return resample(wave, rate, SAMPLE_RATE)


def _make_one(job: ClipJob, tmp: Path) -> np.ndarray:
    if job.attack == "bonafide":
        return _source(job)
    if job.attack == "espeak_ng":
        return synth_espeak(job.text, job.voice, job.rate, tmp, job.seed)
    if job.attack.startswith("flite_"):
        return synth_flite(job.text, job.voice, job.rate, tmp)
    if job.attack == "world":
        return vocode_world(_source(job))
    if job.attack == "world_shifted":
        return vocode_world(_source(job), frame_period=10.0, f0_scale=1.2, warp=1.08)
    if job.attack == "griffin_lim":
        return vocode_griffin_lim(_source(job), job.seed)
    if job.attack == "lpc":
        return vocode_lpc(_source(job), job.seed)
    raise ValueError(f"unknown attack {job.attack!r}")


def run_task(task: Task) -> list[ClipResult]:
    """Produce every clip of ``task``; a failing clip is reported, not raised."""
    results = []
    with tempfile.TemporaryDirectory(prefix="spoofbench-demo-") as tmp_name:
        tmp = Path(tmp_name)
        if task.attack.startswith("festival_"):
            try:
                waves = synth_festival_batch(task.jobs, tmp)
            except Exception as err:  # noqa: BLE001 - reported per clip to the caller
                return [ClipResult(job.utt_id, 0, f"{type(err).__name__}: {err}") for job in task.jobs]
            for job, wave in zip(task.jobs, waves):
                try:
                    results.append(ClipResult(job.utt_id, finish_clip(wave, job)))
                except Exception as err:  # noqa: BLE001
                    results.append(ClipResult(job.utt_id, 0, f"{type(err).__name__}: {err}"))
            return results
        for job in task.jobs:
            try:
                results.append(ClipResult(job.utt_id, finish_clip(_make_one(job, tmp), job)))
            except Exception as err:  # noqa: BLE001
                results.append(ClipResult(job.utt_id, 0, f"{type(err).__name__}: {err}"))
    return results


_PROBE_TEXT = "Testing one two three."


def probe_attack(attack: Attack) -> str | None:
    """None when ``attack`` can run here, else the reason it cannot (tool missing, voice missing)."""
    if attack.kind == "vocoder":
        module = {"pyworld": "pyworld", "librosa": "librosa", "scipy": "scipy.signal"}[attack.tool]
        try:
            with warnings.catch_warnings():  # pyworld imports the deprecated pkg_resources (setuptools<81)
                warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
                __import__(module)
        except Exception as err:  # noqa: BLE001 - any import failure makes the attack unavailable
            return f"Python module {module} cannot be imported ({type(err).__name__}: {err})"
        return None
    if shutil.which(attack.tool) is None:
        return f"{attack.tool} is not installed (not on PATH)"
    voice = attack.voices[0] if attack.voices[0] != "split-specific" else ESPEAK_VOICES["train"][0]
    job = ClipJob("probe", "", attack.id, 3.0, 0.0, 0, text=_PROBE_TEXT, voice=voice)
    try:
        with tempfile.TemporaryDirectory(prefix="spoofbench-probe-") as tmp_name:
            if attack.tool == "festival":
                wave = synth_festival_batch([job], Path(tmp_name))[0]
            else:
                wave = _make_one(job, Path(tmp_name))
    except Exception as err:  # noqa: BLE001
        return f"{attack.tool} failed on a test sentence: {err}"
    if len(wave) < SAMPLE_RATE // 4 or not np.isfinite(wave).all() or np.abs(wave).max() < 1e-4:
        return f"{attack.tool} produced no usable audio for a test sentence"
    return None



def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Worker initializer: end this worker once ``parent_pid`` is gone (killed builds leave no orphans)."""
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
