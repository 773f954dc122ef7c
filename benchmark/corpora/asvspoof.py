"""ASVspoof 2019 LA, 2021 LA / DF and ASVspoof 5 recipes, reading the official protocol files.

Published layouts (``root`` is the folder that holds them):

* 2019 LA: ``ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt``
  (``speaker utt_id - attack|- bonafide|spoof``), audio ``ASVspoof2019_LA_{split}/flac/<id>.flac``.
* 2021 LA / DF: keys ``{LA,DF}-keys-full/keys/{LA,DF}/CM/trial_metadata.txt`` (or ``keys/...``),
  audio ``ASVspoof2021_{LA,DF}_eval/flac/<id>.flac``. LA key columns: ``speaker id codec
  transmission attack label trim subset``; DF: ``speaker id codec source_corpus attack label trim
  subset vocoder_type ...``.
* ASVspoof 5: ``ASVspoof5_protocols/ASVspoof5.{train,dev.track_1,eval.track_1}.tsv`` (whitespace
  separated despite the name: ``speaker file gender codec codec_q codec_seed attack_tag
  attack_label key tmp``), audio ``flac_T/``, ``flac_D/``, ``flac_E_eval/`` (or ``flac_E/``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import ManifestError
from .manifest import Trial
from .recipe import (CorpusRecipe, LayoutNotFoundError, find_file, need_columns, normalise_label,
                     read_lines)

# --- ASVspoof 2019 LA --------------------------------------------------------------------------

_2019_FILES = {"train": "ASVspoof2019.LA.cm.train.trn.txt", "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
               "eval": "ASVspoof2019.LA.cm.eval.trl.txt"}


def parse_asvspoof2019_la(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    path = find_file([_2019_FILES[split]],
                     [protocol, root / "ASVspoof2019_LA_cm_protocols", root / "LA" /
                      "ASVspoof2019_LA_cm_protocols", root], "ASVspoof 2019 LA CM protocol")
    layout = "speaker utt_id - attack|- bonafide|spoof"
    prefix = "LA/" if (root / "LA" / f"ASVspoof2019_LA_{split}").is_dir() else ""
    for number, parts in read_lines(path):
        need_columns(parts, 5, path, number, layout)
        speaker, utt, _, attack, key = parts[:5]
        label = normalise_label(key, path, number)
        if label == "spoof" and attack == "-":
            raise ManifestError(f"spoof trial without attack id ({layout})", path=path,
                                line=number, field="attack")
        yield Trial(id=utt, path=f"{prefix}ASVspoof2019_LA_{split}/flac/{utt}.flac", label=label,
                    corpus="asvspoof2019_la", split=split, speaker=speaker,
                    attack="bonafide" if label == "bonafide" else attack, language="en",
                    custom={"source_corpus": "vctk"})


# --- ASVspoof 2021 LA / DF ---------------------------------------------------------------------

def _keys_2021(track: str, root: Path, protocol: Path | None) -> Path:
    folders = [protocol]
    for base in (root, root.parent):
        for name in (f"{track}-keys-full", f"{track}-keys-stage-1", ""):
            folders.append((base / name if name else base) / "keys" / track / "CM")
            folders.append((base / name if name else base) / "keys" / "CM")
    return find_file(["trial_metadata.txt"], folders, f"ASVspoof 2021 {track} CM keys")


def _trial_list_2021(track: str, root: Path, protocol: Path | None) -> Path:
    name = f"ASVspoof2021.{track}.cm.eval.trl.txt"
    return find_file([name], [protocol, root / f"ASVspoof2021_{track}_eval", root],
                     f"ASVspoof 2021 {track} trial list")


def asvspoof2021_trial_ids(track: str, root: Path, protocol: Path | None = None) -> Iterator[str]:
    """Trial ids of the 2021 eval set from the keys, else from the (label-less) trial list."""
    try:
        path = _keys_2021(track, root, protocol)
        column = 1
    except ManifestError:
        path = _trial_list_2021(track, root, protocol)
        column = 0
    for number, parts in read_lines(path):
        need_columns(parts, column + 1, path, number, "trial list")
        yield parts[column]


def _parse_2021(track: str, root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    try:
        path = _keys_2021(track, root, protocol)
    except ManifestError as err:
        raise LayoutNotFoundError(
            f"{err} (the trial list ASVspoof2021.{track}.cm.eval.trl.txt has no labels: download "
            f"the {track}-keys-full package from asvspoof.org)") from None
    corpus = f"asvspoof2021_{track.lower()}"
    third = "transmission" if track == "LA" else "source_corpus"
    layout = f"speaker id codec {third} attack label trim subset" + (
        " vocoder_type ..." if track == "DF" else "")
    for number, parts in read_lines(path):
        need_columns(parts, 8, path, number, layout)
        speaker, utt, codec, third_value, attack, key, trim, subset = parts[:8]
        label = normalise_label(key, path, number)
        custom: dict[str, str] = {"codec": codec, third: third_value, "trim": trim,
                                  "subset": subset}
        if track == "DF" and len(parts) > 8:
            custom["vocoder"] = parts[8]
        if track == "LA":
            custom["source_corpus"] = "vctk"
        yield Trial(id=utt, path=f"ASVspoof2021_{track}_eval/flac/{utt}.flac", label=label,
                    corpus=corpus, split=split, speaker=speaker,
                    attack="bonafide" if label == "bonafide" else attack, language="en",
                    custom=custom)


def parse_asvspoof2021_la(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    return _parse_2021("LA", root, split, protocol)


def parse_asvspoof2021_df(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    return _parse_2021("DF", root, split, protocol)


# --- ASVspoof 5 --------------------------------------------------------------------------------

_5_FILES = {"train": ["ASVspoof5.train.tsv", "ASVspoof5.train.metadata.txt"],
            "dev": ["ASVspoof5.dev.track_1.tsv", "ASVspoof5.dev.metadata.txt"],
            "eval": ["ASVspoof5.eval.track_1.tsv"]}
_5_AUDIO = {"train": ["flac_T"], "dev": ["flac_D"], "eval": ["flac_E_eval", "flac_E"]}


def parse_asvspoof5(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    path = find_file(_5_FILES[split], [protocol, root / "ASVspoof5_protocols", root],
                     "ASVspoof 5 protocol")
    audio = next((d for d in _5_AUDIO[split] if (root / d).is_dir()), _5_AUDIO[split][0])
    layout = "speaker file gender codec codec_q codec_seed attack_tag attack_label key tmp"
    for number, parts in read_lines(path):
        if number == 1 and parts[0].upper() in {"SPEAKER_ID", "SPK", "SPEAKER"}:
            continue  # header line
        need_columns(parts, 9, path, number, layout)
        speaker, utt, gender, codec, codec_q, codec_seed, attack_tag, attack_label, key = parts[:9]
        label = normalise_label(key, path, number, field_name="key")
        name = utt if utt.endswith(".flac") else f"{utt}.flac"
        yield Trial(id=utt.removesuffix(".flac"), path=f"{audio}/{name}", label=label,
                    corpus="asvspoof5", split=split, speaker=speaker,
                    attack="bonafide" if label == "bonafide" else attack_label, language="en",
                    custom={"gender": gender, "codec": codec, "codec_q": codec_q,
                            "codec_seed": codec_seed, "attack_tag": attack_tag,
                            "source_corpus": "mls"})


ASVSPOOF2019_LA = CorpusRecipe(
    name="asvspoof2019_la", title="ASVspoof 2019 logical access",
    source="https://doi.org/10.7488/ds/2555", licence="ODC-By 1.0",
    expected={"train": 25_380, "dev": 24_844, "eval": 71_237}, parse=parse_asvspoof2019_la,
    layout="ASVspoof2019_LA_cm_protocols/ and ASVspoof2019_LA_{train,dev,eval}/flac/",
    notes="Attacks A01-A06 in train/dev, A07-A19 in eval (A16=A04, A19=A06).")

ASVSPOOF2021_LA = CorpusRecipe(
    name="asvspoof2021_la", title="ASVspoof 2021 logical access (eval, telephony codecs)",
    source="https://zenodo.org/records/4837263", licence="ODC-By 1.0",
    expected={"eval": 181_566}, parse=parse_asvspoof2021_la,
    layout="ASVspoof2021_LA_eval/flac/ and LA-keys-full/keys/LA/CM/trial_metadata.txt",
    notes="Labels come from the keys package; the eval trial list alone has ids only.")

ASVSPOOF2021_DF = CorpusRecipe(
    name="asvspoof2021_df", title="ASVspoof 2021 deepfake (eval, media codecs)",
    source="https://zenodo.org/records/4835108", licence="ODC-By 1.0",
    expected={"eval": 611_829}, parse=parse_asvspoof2021_df,
    layout="ASVspoof2021_DF_eval/flac/ and DF-keys-full/keys/DF/CM/trial_metadata.txt",
    notes="Sources: ASVspoof 2019 LA eval, VCC 2018, VCC 2020 (source_corpus column).")

ASVSPOOF5 = CorpusRecipe(
    name="asvspoof5", title="ASVspoof 5 (track 1)",
    source="https://zenodo.org/records/14498691", licence="CC BY 4.0",
    expected={"train": 182_357, "dev": 140_950, "eval": 680_774}, parse=parse_asvspoof5,
    layout="ASVspoof5_protocols/*.tsv and flac_T/, flac_D/, flac_E_eval/",
    notes="Bona fide from Multilingual LibriSpeech English.")
