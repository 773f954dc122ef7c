"""Cut the demo's bona fide clips out of the shared corpora (run once by a maintainer).

The selection is deterministic and needs nothing but the source folders: speakers are ordered
by a sha256 of their id (within each sex), utterances by name, and each utterance is trimmed of
silence and cut into consecutive clips of 1.5–3 s at quiet points. The result is the folder
``data_manifests/demo/`` that ships with the package: ``audio/<source>/<clip_id>.flac`` (16 kHz
mono, 16-bit) and ``index.tsv``, one row per clip with its corpus (A/B), split, speaker, source,
licence and sha256. Re-running it over the same sources gives the same files.

    python -m spoofbench.demo.vendoring ../shared/corpora data_manifests/demo
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_text_atomic
from ..errors import ManifestError
from .audio import SAMPLE_RATE, cut_at_quiet_point, resample, trim_silences, write_flac_atomic
from .index import INDEX_COLUMNS, LICENCES, VendoredClip

#: Corpus A: LibriSpeech train-clean-100 speakers (one utterance each), per split and sex; ``None``: every
#: speaker left after the splits before it (the held-out pool is as large as the source allows).
A_SPEAKERS_PER_SEX = {"train": 40, "dev": 13, "eval": None}
#: Clips cut from each speaker's utterance, per split (held-out speakers give more: larger test sets).
A_CLIPS_PER_SPEAKER = {"train": 2, "dev": 2, "eval": 4}
#: Corpus B: LibriSpeech test-other (other speakers), LJSpeech and CMU ARCTIC.
B_TEST_OTHER_UTTERANCES_PER_SPEAKER = 10
B_TEST_OTHER_CLIPS_PER_UTTERANCE = 3
B_LJSPEECH_CLIPS_PER_UTTERANCE = 2
CLIP_MAX_S, CLIP_MIN_S = 3.0, 1.5


@dataclass(frozen=True)
class _Utterance:
    path: Path
    origin: str      # path relative to the shared corpora folder
    source: str      # librispeech | ljspeech | cmu_arctic
    speaker: str
    sex: str


def _speaker_sexes(speakers_txt: Path) -> dict[str, str]:
    sexes = {}
    for line in speakers_txt.read_text(encoding="utf-8").splitlines():
        if line.startswith(";") or "|" not in line:
            continue
        parts = [p.strip() for p in line.split("|")]
        sexes[parts[0]] = parts[1]
    return sexes


def _order_key(name: str) -> str:
    return hashlib.sha256(f"spoofbench-demo:{name}".encode()).hexdigest()


def _chunks(path: Path, count: int) -> list[np.ndarray]:
    """Up to ``count`` consecutive 1.5–3 s clips of one utterance, silence-trimmed."""
    import soundfile as sf

    wave, rate = sf.read(path, dtype="float64", always_2d=False)
    wave = trim_silences(resample(wave, rate, SAMPLE_RATE))
    out = []
    while len(out) < count and len(wave) >= CLIP_MIN_S * SAMPLE_RATE:
        clip = cut_at_quiet_point(wave, CLIP_MAX_S, CLIP_MIN_S)
        out.append(clip)
        wave = trim_silences(wave[len(clip):]) if len(wave) > len(clip) else wave[:0]
    return out


def _plan(corpora: Path) -> list[tuple[str, str, _Utterance, int]]:
    """``(corpus, split, utterance, clips wanted)`` for every utterance the demo uses."""
    libri = corpora / "librispeech"
    plan: list[tuple[str, str, _Utterance, int]] = []
    train_clean = libri / "train-clean-100"
    sexes = _speaker_sexes(train_clean / "SPEAKERS.TXT")
    by_sex: dict[str, list[Path]] = {"F": [], "M": []}
    for flac in sorted(train_clean.glob("*.flac")):
        by_sex[sexes.get(flac.name.split("-")[0], "M")].append(flac)
    for sex, files in by_sex.items():
        files.sort(key=lambda f: _order_key(f.name.split("-")[0]))
        start = 0
        for split, n in A_SPEAKERS_PER_SEX.items():
            chosen = files[start:] if n is None else files[start:start + n]
            for flac in chosen:
                utt = _Utterance(flac, str(flac.relative_to(corpora)), "librispeech",
                                 flac.name.split("-")[0], sex)
                plan.append(("A", split, utt, A_CLIPS_PER_SPEAKER[split]))
            start += len(chosen)
    test_other = libri / "test-other"
    sexes = _speaker_sexes(test_other / "SPEAKERS.TXT")
    for speaker_dir in sorted(p for p in test_other.iterdir() if p.is_dir()):
        for flac in sorted(speaker_dir.glob("*.flac"))[:B_TEST_OTHER_UTTERANCES_PER_SPEAKER]:
            utt = _Utterance(flac, str(flac.relative_to(corpora)), "librispeech", speaker_dir.name,
                             sexes.get(speaker_dir.name, "-"))
            plan.append(("B", "eval", utt, B_TEST_OTHER_CLIPS_PER_UTTERANCE))
    for flac in sorted((corpora / "ljspeech").glob("*.flac")):
        plan.append(("B", "eval", _Utterance(flac, str(flac.relative_to(corpora)), "ljspeech",
                                             "LJ", "F"), B_LJSPEECH_CLIPS_PER_UTTERANCE))
    for wav in sorted((corpora / "cmu_arctic").glob("*.wav")):
        speaker = wav.stem.split("_")[3]  # cmu_arctic_us_<speaker>_<utt>
        plan.append(("B", "eval", _Utterance(wav, str(wav.relative_to(corpora)), "cmu_arctic",
                                             speaker, "M"), 1))
    return plan


def vendor_bonafide(corpora: Path, out_dir: Path) -> list[VendoredClip]:
    """Write ``out_dir/audio/**.flac`` and ``out_dir/index.tsv`` from the shared ``corpora``."""
    corpora, out_dir = Path(corpora), Path(out_dir)
    for name in ("librispeech", "ljspeech", "cmu_arctic"):
        if not (corpora / name).is_dir():
            raise ManifestError(f"source corpus folder missing; expected {name}/ with SOURCE.txt",
                                path=corpora / name)
    clips: list[VendoredClip] = []
    for corpus, split, utt, count in _plan(corpora):
        stem = Path(utt.origin).stem
        speaker = utt.speaker if utt.source != "librispeech" else f"libri{utt.speaker}"
        for k, wave in enumerate(_chunks(utt.path, count)):
            clip_id = f"{utt.source}-{stem}-c{k}".replace("_", "-")
            rel = f"audio/{utt.source}/{clip_id}.flac"
            write_flac_atomic(out_dir / rel, wave.astype(np.float32))
            digest = hashlib.sha256((out_dir / rel).read_bytes()).hexdigest()
            clips.append(VendoredClip(
                clip_id=clip_id, path=rel, corpus=corpus, split=split, speaker=speaker,
                sex=utt.sex, source=utt.source, licence=LICENCES[utt.source], origin=utt.origin,
                chunk=k, duration_s=round(len(wave) / SAMPLE_RATE, 3), sha256=digest))
    lines = ["\t".join(INDEX_COLUMNS)]
    lines += ["\t".join(str(getattr(c, col)) for col in INDEX_COLUMNS) for c in clips]
    write_text_atomic(out_dir / "index.tsv", "\n".join(lines) + "\n")
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", type=Path, help="the shared corpora folder (../shared/corpora)")
    parser.add_argument("out_dir", type=Path, help="data_manifests/demo")
    args = parser.parse_args(argv)
    clips = vendor_bonafide(args.corpora, args.out_dir)
    total = sum(c.duration_s for c in clips)
    size = sum((args.out_dir / c.path).stat().st_size for c in clips)
    print(f"{len(clips)} clips, {total / 60:.1f} min, {size / 1e6:.1f} MB in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
