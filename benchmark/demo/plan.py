"""Which clips the demo corpus holds: a deterministic plan from sizes, seed and vendored index.

Six sets. Training: ``demo_a_train`` and ``demo_a_dev`` (corpus A: LibriSpeech train-clean-100
speakers; espeak-ng, flite kal/kal16, WORLD). Then a ladder of test sets, each adding one shift:

1. ``demo_a_eval``: unseen speakers, seen attacks (same generators and voices as training);
2. ``demo_a_voices``: unseen voices and settings of seen generators (espeak-ng's held-out voices,
   WORLD with other frame rate, F0 and envelope);
3. ``demo_a_families``: unseen generator families (corpus B's attacks) against the same bona fide
   speakers as rungs 1–2;
4. ``demo_b_eval``: unseen recording corpora for the bona fide side too (LibriSpeech test-other,
   LJSpeech, CMU ARCTIC) with unseen families.

Utterance ids and file names do not reveal the label: ``<set>_<k>`` in a seeded order.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .generators import ESPEAK_VOICES, Attack, ClipJob
from .index import VendoredClip

#: Attacks of training (corpus A), their held-out variants, and the unseen families (corpus B).
A_SEEN = ("espeak_ng", "flite_kal", "flite_kal16", "world")
A_VARIANTS = ("espeak_ng", "world_shifted")
B_FAMILIES = ("flite_awb", "flite_rms", "flite_slt", "festival_ked", "festival_slt_hts", "griffin_lim", "lpc")


@dataclass(frozen=True)
class SetSpec:
    """How one set is made: bona fide ``pool`` (corpus, split) of the vendored index, the attack ids
    its spoofs come from, the espeak-ng voice group, the sentence block its TTS speaks, the
    :class:`DemoSizes` prefix of its counts, and what it tests."""

    pool: tuple[str, str]
    attacks: tuple[str, ...]
    voices: str
    text: str
    sizes: str
    description: str


SETS: dict[str, SetSpec] = {
    "demo_a_train": SetSpec(("A", "train"), A_SEEN, "train", "train", "train", "training"),
    "demo_a_dev": SetSpec(("A", "dev"), A_SEEN, "dev", "dev", "dev", "model selection"),
    "demo_a_eval": SetSpec(("A", "eval"), A_SEEN, "train", "eval", "eval",
                           "rung 1: unseen speakers, seen attacks"),
    "demo_a_voices": SetSpec(("A", "eval"), A_VARIANTS, "eval", "eval", "voices",
                             "rung 2: unseen voices and settings of seen generators"),
    "demo_a_families": SetSpec(("A", "eval"), B_FAMILIES, "eval", "eval", "families",
                               "rung 3: unseen generator families"),
    "demo_b_eval": SetSpec(("B", "eval"), B_FAMILIES, "eval", "ood", "ood",
                           "rung 4: unseen bona fide recording corpora (and unseen families)"),
}
#: Share of ``sentences.txt`` each text block holds (consecutive blocks: no text crosses them).
SENTENCE_SHARES = {"train": 0.475, "dev": 0.175, "eval": 0.175, "ood": 0.175}
#: Per-clip loudness jitter (dB, uniform), the same for both labels.
GAIN_JITTER_DB = 3.0
#: Speaking-rate range of the TTS attacks (uniform).
RATE_RANGE = (0.9, 1.12)


@dataclass(frozen=True)
class DemoSizes:
    """Clips per set and label, and the longest clip (seconds). Rungs 2 and 3 default to the
    counts of rung 1 (``eval_*``)."""

    train_bonafide: int
    train_spoof: int
    dev_bonafide: int
    dev_spoof: int
    eval_bonafide: int
    eval_spoof: int
    ood_bonafide: int
    ood_spoof: int
    max_seconds: float = 3.0
    voices_bonafide: int | None = None
    voices_spoof: int | None = None
    families_bonafide: int | None = None
    families_spoof: int | None = None

    def counts(self, name: str) -> tuple[int, int]:
        """``(bona fide, spoof)`` of set ``name``."""
        prefix = SETS[name].sizes
        bona, spoof = getattr(self, f"{prefix}_bonafide"), getattr(self, f"{prefix}_spoof")
        return (self.eval_bonafide if bona is None else bona), (self.eval_spoof if spoof is None else spoof)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


QUICK_SIZES = DemoSizes(40, 80, 16, 32, 20, 40, 20, 40)
#: 250 bona fide and 250 spoofs per rung (the held-out pools hold 527 A-eval and 292 B clips): a rung's 95% EER
#: CI is then about 8 points wide at an EER of 25% (6 at 10%), and a paired test detects differences of a few
#: points (the summary states the detectable difference per rung). Training stays small: the budget goes to
#: held-out size, which is what ranks detectors.
FULL_SIZES = DemoSizes(80, 160, 30, 60, 250, 250, 250, 250)


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
    """Indices of the sentences set ``name`` may speak (its text block's)."""
    block = SETS[name].text
    start = 0.0
    for block_name, share in SENTENCE_SHARES.items():
        if block_name == block:
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


@dataclass(frozen=True)
class _Sources:
    """What every set draws from: the vendored index and sentences, where clips come from and go."""

    index: list[VendoredClip]
    sentences: list[str]
    data_dir: Path
    out_dir: Path
    sizes: DemoSizes


def make_plan(index: list[VendoredClip], data_dir: Path, out_dir: Path, sizes: DemoSizes,
              seed: int, attacks: list[Attack]) -> list[PlannedClip]:
    """Every clip of the four sets. ``attacks``: the available ones (others were skipped)."""
    sources = _Sources(index, _sentences(data_dir), data_dir, out_dir, sizes)
    plan: list[PlannedClip] = []
    for set_number, name in enumerate(SETS):
        plan += _plan_set(name, np.random.default_rng([seed, set_number]), sources, attacks)
    return plan


def _plan_set(name: str, rng: np.random.Generator, sources: _Sources, attacks: list[Attack]) -> list[PlannedClip]:
    """The clips of set ``name``, every draw from its own ``rng`` in a fixed order."""
    spec = SETS[name]
    corpus, split = spec.pool
    n_bona, n_spoof = sources.sizes.counts(name)
    pool = _speaker_spread([c for c in sources.index if c.corpus == corpus and c.split == split], rng)
    entries = _entries(name, n_bona, n_spoof, len(pool), [a for a in attacks if a.id in spec.attacks])
    order = rng.permutation(len(entries))
    text_order = rng.permutation(_sentence_block(name, len(sources.sentences)))
    source_order = rng.permutation(len(pool))
    corpus_name = name.rsplit("_", 1)[0]
    clips = []
    for position, entry_index in enumerate(order):
        label, attack, k = entries[entry_index]
        utt_id = f"{name}_{position:05d}"
        rel_path = f"audio/{name}/{utt_id}.flac"
        clip_seed = int(rng.integers(2**31))
        gain = float(rng.uniform(-GAIN_JITTER_DB, GAIN_JITTER_DB))
        common = dict(utt_id=utt_id, out_path=str(sources.out_dir / rel_path),
                      max_seconds=sources.sizes.max_seconds, gain_db=round(gain, 3), seed=clip_seed)
        if attack is None:
            job, custom, speaker = _recorded_clip(None, pool[k], sources.data_dir, common)
        elif attack.kind == "vocoder":
            offset = sum(ord(ch) for ch in attack.id)
            clip = pool[int(source_order[(k + offset) % len(pool)])]
            job, custom, speaker = _recorded_clip(attack, clip, sources.data_dir, common)
        else:
            job, custom, speaker = _tts_clip(attack, spec, k, sources.sentences, text_order, rng, common)
        clips.append(PlannedClip(name, corpus_name, split, label, speaker, rel_path, job, custom))
    return clips


def _entries(name: str, n_bona: int, n_spoof: int, pool_size: int,
             set_attacks: list[Attack]) -> list[tuple[str, Attack | None, int]]:
    """(label, attack or None, k-th of its kind) of every clip, spoofs cycling through ``set_attacks``."""
    if n_bona > pool_size:
        raise ConfigError(f"{n_bona} bona fide clips asked for {name}, but the vendored index "
                          f"holds {pool_size}", field=f"sizes.{name}")
    if n_spoof and not set_attacks:
        raise ConfigError(f"none of the attacks of {name} ({', '.join(SETS[name].attacks)}) can run here, "
                          f"so it cannot have spoofs", field="attacks")
    entries: list[tuple[str, Attack | None, int]] = [("bonafide", None, k) for k in range(n_bona)]
    for k in range(n_spoof):
        entries.append(("spoof", set_attacks[k % len(set_attacks)], k // len(set_attacks)))
    return entries


def _recorded_clip(attack: Attack | None, clip: VendoredClip, data_dir: Path,
                   common: dict) -> tuple[ClipJob, dict, str]:
    """A vendored clip as is (``attack`` None: bona fide) or through a vocoder attack."""
    custom = {"source_corpus": clip.source, "source_clip": clip.clip_id,
              "source_utterance": Path(clip.origin).stem, "licence": clip.licence}
    if attack is None:
        job = ClipJob(attack="bonafide", source=str(data_dir / clip.path), **common)
        custom["generator"] = "-"
    else:
        job = ClipJob(attack=attack.id, source=str(data_dir / clip.path), **common)
        custom.update(generator=attack.tool, family=attack.family)
    return job, custom, clip.speaker


def _tts_clip(attack: Attack, spec: SetSpec, k: int, sentences: list[str], text_order: np.ndarray,
              rng: np.random.Generator, common: dict) -> tuple[ClipJob, dict, str]:
    """A text-to-speech spoof: a voice of the set's group, a sentence of its block, a drawn speaking rate."""
    voices = ESPEAK_VOICES[spec.voices] if attack.id == "espeak_ng" else attack.voices
    voice = voices[k % len(voices)]
    sentence = int(text_order[(k * 7 + len(attack.id)) % len(text_order)])
    text = sentences[sentence]
    rate = float(rng.uniform(*RATE_RANGE))
    job = ClipJob(attack=attack.id, text=text, voice=voice, rate=round(rate, 3), **common)
    custom = {"generator": attack.tool, "family": attack.family, "voice": voice,
              "text": text, "source_utterance": f"sentence-{sentence:03d}"}
    return job, custom, _tts_speaker(attack, voice)
