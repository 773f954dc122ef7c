"""Which clips the demo corpus holds: a deterministic plan from sizes, seed and vendored index.

Four sets: ``demo_a_train``, ``demo_a_dev``, ``demo_a_eval`` (corpus A: its speakers, its
attacks) and ``demo_b_eval`` (corpus B: other speakers, other attack families). Utterance ids
and file names do not reveal the label: ``<set>_<k>`` in a seeded order.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .generators import ESPEAK_VOICES, Attack, ClipJob
from .index import VendoredClip

#: (corpus, split) of each generated set.
SETS = {"demo_a_train": ("A", "train"), "demo_a_dev": ("A", "dev"),
        "demo_a_eval": ("A", "eval"), "demo_b_eval": ("B", "eval")}
#: Share of ``sentences.txt`` each set's TTS speaks (consecutive blocks: no text crosses sets).
SENTENCE_SHARES = {"demo_a_train": 0.475, "demo_a_dev": 0.175, "demo_a_eval": 0.175,
                   "demo_b_eval": 0.175}
#: Per-clip loudness jitter (dB, uniform), the same for both labels.
GAIN_JITTER_DB = 3.0
#: Speaking-rate range of the TTS attacks (uniform).
RATE_RANGE = (0.9, 1.12)


@dataclass(frozen=True)
class DemoSizes:
    """Clips per set and label, and the longest clip (seconds)."""

    train_bonafide: int
    train_spoof: int
    dev_bonafide: int
    dev_spoof: int
    eval_bonafide: int
    eval_spoof: int
    ood_bonafide: int
    ood_spoof: int
    max_seconds: float = 3.0

    def counts(self, name: str) -> tuple[int, int]:
        """``(bona fide, spoof)`` of set ``name``."""
        prefix = {"demo_a_train": "train", "demo_a_dev": "dev", "demo_a_eval": "eval",
                  "demo_b_eval": "ood"}[name]
        return getattr(self, f"{prefix}_bonafide"), getattr(self, f"{prefix}_spoof")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


QUICK_SIZES = DemoSizes(40, 80, 20, 40, 20, 40, 20, 40)
#: Sized so that the full demo (3 detectors × 2 test sets × the default matrix) fits 15 min on 2 CPU cores.
FULL_SIZES = DemoSizes(150, 300, 40, 80, 40, 80, 40, 80)


@dataclass(frozen=True)
class PlannedClip:
    """A clip with its manifest fields and how to make it."""

    set_name: str
    corpus: str                 # "demo_a" | "demo_b"
    split: str
    label: str
    speaker: str
    rel_path: str               # relative to the demo corpus root
    job: ClipJob
    custom: dict


def _sentences(data_dir: Path) -> list[str]:
    lines = (data_dir / "sentences.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _sentence_block(name: str, count: int) -> list[int]:
    """Indices of the sentences set ``name`` may speak."""
    start = 0.0
    for set_name, share in SENTENCE_SHARES.items():
        if set_name == name:
            return list(range(round(start * count), round((start + share) * count)))
        start += share
    raise KeyError(name)


def _speaker_spread(clips: list[VendoredClip], rng: np.random.Generator) -> list[VendoredClip]:
    """Clips in an order that visits every speaker once before any speaker twice."""
    speakers = sorted({c.speaker for c in clips})
    rng.shuffle(speakers)
    rank = {s: i for i, s in enumerate(speakers)}
    return sorted(clips, key=lambda c: (c.chunk, rank[c.speaker], c.clip_id))


def _tts_speaker(attack: Attack, voice: str) -> str:
    return f"{attack.tool}:{voice}"


def make_plan(index: list[VendoredClip], data_dir: Path, out_dir: Path, sizes: DemoSizes,
              seed: int, attacks: list[Attack]) -> list[PlannedClip]:
    """Every clip of the four sets. ``attacks``: the available ones (others were skipped)."""
    sentences = _sentences(data_dir)
    plan: list[PlannedClip] = []
    for set_number, (name, (corpus, split)) in enumerate(SETS.items()):
        rng = np.random.default_rng([seed, set_number])
        n_bona, n_spoof = sizes.counts(name)
        pool = _speaker_spread([c for c in index if c.corpus == corpus and c.split == split], rng)
        if n_bona > len(pool):
            raise ConfigError(f"{n_bona} bona fide clips asked for {name}, but the vendored index "
                              f"holds {len(pool)}", field=f"sizes.{name}")
        set_attacks = [a for a in attacks if a.corpus == corpus]
        if n_spoof and not set_attacks:
            raise ConfigError(f"no attack of corpus {corpus} can run here, so {name} cannot "
                              f"have spoofs", field="attacks")
        entries: list[tuple[str, Attack | None, int]] = [("bonafide", None, k) for k in range(n_bona)]
        for k in range(n_spoof):
            entries.append(("spoof", set_attacks[k % len(set_attacks)], k // len(set_attacks)))
        order = rng.permutation(len(entries))
        text_order = rng.permutation(_sentence_block(name, len(sentences)))
        source_order = rng.permutation(len(pool))
        corpus_name = name.rsplit("_", 1)[0]
        for position, entry_index in enumerate(order):
            label, attack, k = entries[entry_index]
            utt_id = f"{name}_{position:05d}"
            rel_path = f"audio/{name}/{utt_id}.flac"
            clip_seed = int(rng.integers(2**31))
            gain = float(rng.uniform(-GAIN_JITTER_DB, GAIN_JITTER_DB))
            common = dict(utt_id=utt_id, out_path=str(out_dir / rel_path),
                          max_seconds=sizes.max_seconds, gain_db=round(gain, 3), seed=clip_seed)
            if attack is None:
                clip = pool[k]
                job = ClipJob(attack="bonafide", source=str(data_dir / clip.path), **common)
                custom = {"source_corpus": clip.source, "source_clip": clip.clip_id,
                          "source_utterance": Path(clip.origin).stem,
                          "licence": clip.licence, "generator": "-"}
                speaker = clip.speaker
            elif attack.kind == "vocoder":
                offset = sum(ord(ch) for ch in attack.id)
                clip = pool[int(source_order[(k + offset) % len(pool)])]
                job = ClipJob(attack=attack.id, source=str(data_dir / clip.path), **common)
                custom = {"source_corpus": clip.source, "source_clip": clip.clip_id,
                          "source_utterance": Path(clip.origin).stem,
                          "licence": clip.licence, "generator": attack.tool,
                          "family": attack.family}
                speaker = clip.speaker
            else:
                voices = ESPEAK_VOICES[split] if attack.id == "espeak_ng" else attack.voices
                voice = voices[k % len(voices)]
                sentence = int(text_order[(k * 7 + len(attack.id)) % len(text_order)])
                text = sentences[sentence]
                rate = float(rng.uniform(*RATE_RANGE))
                job = ClipJob(attack=attack.id, text=text, voice=voice, rate=round(rate, 3),
                              **common)
                custom = {"generator": attack.tool, "family": attack.family, "voice": voice,
                          "text": text, "source_utterance": f"sentence-{sentence:03d}"}
                speaker = _tts_speaker(attack, voice)
            plan.append(PlannedClip(name, corpus_name, split, label, speaker, rel_path, job,
                                    custom))
    return plan

