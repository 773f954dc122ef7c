"""WaveFake (Frank & Schönherr, 2021): vocoded LJSpeech / JSUT plus their bona fide sources.

Layout under ``root``: ``generated_audio/<dataset>_<vocoder>/<utt>_gen.wav`` (e.g.
``ljspeech_melgan``, ``jsut_parallel_wavegan``, ``common_voices_prompts_from_conformer_...``),
``LJSpeech-1.1/wavs/LJ*.wav`` and ``jsut_ver1.1/basic5000/wav/BASIC5000_*.wav`` (bona fide).
Each trial records ``source_utterance`` (e.g. ``LJ001-0001``) so overlap with other corpora
built on LJSpeech can be detected.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .manifest import Trial
from .recipe import CorpusRecipe, relative, safe_id, scan_audio

_BONAFIDE = (("LJSpeech-1.1/wavs", "ljspeech", "LJ", "en"),
             ("jsut_ver1.1/basic5000/wav", "jsut", "jsut", "ja"))


def _source_of(folder: str) -> tuple[str, str, str]:
    """``(source_corpus, speaker, language)`` from a generated_audio folder name."""
    if folder.startswith("jsut"):
        return "jsut", "jsut", "ja"
    if folder.startswith("common_voices"):
        return "common_voice_prompts", "LJ", "en"  # LJSpeech-trained TTS on new prompts
    return "ljspeech", "LJ", "en"


def _vocoder_of(folder: str) -> str:
    for prefix in ("ljspeech_", "jsut_"):
        if folder.startswith(prefix):
            return folder[len(prefix):]
    return folder


def parse_wavefake(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    for folder, source, speaker, language in _BONAFIDE:
        for path in scan_audio(root / folder):
            yield Trial(id=safe_id(f"{source}_{path.stem}"), path=relative(path, root),
                        label="bonafide", corpus="wavefake", split=split, speaker=speaker,
                        language=language,
                        custom={"source_corpus": source, "source_utterance": path.stem})
    generated = root / "generated_audio"
    if not generated.is_dir():
        return
    for system in sorted(p for p in generated.iterdir() if p.is_dir()):
        source, speaker, language = _source_of(system.name)
        for path in scan_audio(system):
            utterance = path.stem.removesuffix("_gen")
            yield Trial(id=safe_id(f"{system.name}_{path.stem}"), path=relative(path, root),
                        label="spoof", corpus="wavefake", split=split, speaker=speaker,
                        attack=_vocoder_of(system.name), language=language,
                        custom={"source_corpus": source, "source_utterance": utterance,
                                "vocoder": _vocoder_of(system.name), "system": system.name})


WAVEFAKE = CorpusRecipe(
    name="wavefake", title="WaveFake (vocoded LJSpeech and JSUT) with bona fide sources",
    source="https://zenodo.org/records/5642694", licence="CC BY-SA 4.0 (LJSpeech: public domain)",
    expected={"all": None}, parse=parse_wavefake,
    layout="generated_audio/<dataset>_<vocoder>/, LJSpeech-1.1/wavs/, jsut_ver1.1/basic5000/wav/",
    notes="Published: 117,985 generated clips; bona fide LJSpeech 13,100 + JSUT basic5000 5,000. "
          "No official splits: protocols hold out vocoders.")
