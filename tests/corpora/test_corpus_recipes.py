"""Each recipe on a tiny tree in the real layout, and the real protocols with exact counts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spoofbench import cli
from spoofbench.corpora import RECIPES
from spoofbench.corpora.asvspoof import asvspoof2021_trial_ids
from spoofbench.corpora.manifest import read_manifest
from spoofbench.corpora.recipe import prepare
from spoofbench.errors import ManifestError

from corpora_testutil import PROTOCOLS, shared_lines, write_audio

# --- exact counts of the real protocol files in ../shared ----------------------------------------


@pytest.mark.parametrize("split,total,bonafide", [("train", 25_380, 2_580), ("dev", 24_844, 2_548),
                                                  ("eval", 71_237, 7_355)])
def test_asvspoof2019_la_real_protocols_exact(split, total, bonafide):
    folder = PROTOCOLS / "asvspoof2019_la"
    if not folder.is_dir():
        pytest.skip("shared ASVspoof 2019 LA protocols not available")
    recipe = RECIPES.get("asvspoof2019_la")
    trials = list(recipe.trials(Path("/nonexistent"), split, protocol=folder))
    assert len(trials) == total == recipe.expected[split]
    assert sum(t.label == "bonafide" for t in trials) == bonafide
    assert len({t.id for t in trials}) == total
    attacks = {t.attack for t in trials if t.label == "spoof"}
    assert attacks == ({f"A{i:02d}" for i in range(1, 7)} if split != "eval"
                       else {f"A{i:02d}" for i in range(7, 20)})


def test_asvspoof2021_la_real_trial_list_exact():
    folder = PROTOCOLS / "asvspoof2021_la"
    if not folder.is_dir():
        pytest.skip("shared ASVspoof 2021 LA trial list not available")
    ids = list(asvspoof2021_trial_ids("LA", Path("/nonexistent"), folder))
    assert len(ids) == len(set(ids)) == RECIPES.get("asvspoof2021_la").expected["eval"] == 181_566
    # without the keys package there are no labels: a clear error, not a guess
    with pytest.raises(ManifestError, match="keys"):
        next(RECIPES.get("asvspoof2021_la").trials(Path("/nonexistent"), "eval", protocol=folder))


def test_in_the_wild_real_labels_exact():
    labels = PROTOCOLS / "in_the_wild" / "labels.txt"
    if not labels.is_file():
        pytest.skip("shared In-the-Wild labels not available")
    trials = list(RECIPES.get("in_the_wild").trials(Path("/nonexistent"), "eval", protocol=labels))
    assert len(trials) == 31_779 == RECIPES.get("in_the_wild").expected["eval"]
    assert sum(t.label == "bonafide" for t in trials) == 19_963
    assert sum(t.label == "spoof" for t in trials) == 11_816


# --- tiny trees in the published layouts ------------------------------------------------------


def _la19_tree(root: Path) -> dict[str, list[str]]:
    files = {"train": "ASVspoof2019.LA.cm.train.trn.txt", "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
             "eval": "ASVspoof2019.LA.cm.eval.trl.txt"}
    lines = {}
    for split, name in files.items():
        picked = (shared_lines(f"asvspoof2019_la/{name}", 2, lambda l: l.endswith("bonafide\n"))
                  + shared_lines(f"asvspoof2019_la/{name}", 3, lambda l: l.endswith("spoof\n")))
        protocol = root / "ASVspoof2019_LA_cm_protocols" / name
        protocol.parent.mkdir(parents=True, exist_ok=True)
        protocol.write_text("\n".join(picked) + "\n", encoding="utf-8")
        for seed, line in enumerate(picked):
            write_audio(root / f"ASVspoof2019_LA_{split}" / "flac" / f"{line.split()[1]}.flac",
                        seed=seed)
        lines[split] = picked
    return lines


def test_asvspoof2019_la_tree_prepare_reports_missing_and_counts(tmp_path):
    root = tmp_path / "LA"
    lines = _la19_tree(root)
    gone = lines["eval"][0].split()[1]
    (root / "ASVspoof2019_LA_eval" / "flac" / f"{gone}.flac").unlink()
    report = prepare("asvspoof2019_la", root, tmp_path / "out", probe=True,
                     cache_dir=tmp_path / "cache", progress=False)
    by_split = {s.split: s for s in report.splits}
    assert by_split["train"].written == 5 and by_split["eval"].written == 4
    assert by_split["eval"].missing == [f"ASVspoof2019_LA_eval/flac/{gone}.flac"]
    assert by_split["train"].count_matches is False  # 5 listed vs 25,380 published
    assert "DIFFERENCE" in by_split["train"].describe() and not report.ok
    trials = list(read_manifest(tmp_path / "out" / "asvspoof2019_la_train.jsonl.gz"))
    first = lines["train"][0].split()
    assert (trials[0].id, trials[0].speaker, trials[0].label) == (first[1], first[0], "bonafide")
    assert trials[0].sampling_rate == 16000 and trials[0].num_samples == 1600
    assert trials[0].duration == pytest.approx(0.1)
    spoof = trials[-1]
    assert spoof.attack == lines["train"][-1].split()[3] and spoof.label == "spoof"
    assert spoof.audio_path(root).is_file()


def test_asvspoof2021_la_df_keys(tmp_path):
    la = ["LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval",
          "LA_0013 LA_E_5464494 none no_tx bonafide bonafide notrim progress"]
    df = ["LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -",
          "VCC2TF1 DF_E_2000027 nocodec vcc2020 bonafide bonafide notrim progress bonafide - - - -"]
    for track, lines in (("LA", la), ("DF", df)):
        keys = tmp_path / f"{track}-keys-full" / "keys" / track / "CM" / "trial_metadata.txt"
        keys.parent.mkdir(parents=True)
        keys.write_text("\n".join(lines) + "\n")
        for line in lines:
            write_audio(tmp_path / f"ASVspoof2021_{track}_eval" / "flac" / f"{line.split()[1]}.flac")
    la_trials = list(RECIPES.get("asvspoof2021_la").trials(tmp_path, "eval"))
    assert [t.label for t in la_trials] == ["spoof", "bonafide"]
    assert la_trials[0].custom["codec"] == "alaw" and la_trials[0].custom["transmission"] == "ita_tx"
    assert la_trials[1].attack == "bonafide"
    df_trials = list(RECIPES.get("asvspoof2021_df").trials(tmp_path, "eval"))
    assert df_trials[0].custom["vocoder"] == "traditional_vocoder"
    assert df_trials[1].custom["source_corpus"] == "vcc2020"
    report = prepare("asvspoof2021_df", tmp_path, tmp_path / "out", progress=False)
    assert report.splits[0].written == 2 and report.splits[0].expected == 611_829


def test_asvspoof5_tsv(tmp_path):
    lines = ["SPEAKER_ID FLAC_FILE_NAME SPEAKER_GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG "
             "ATTACK_LABEL KEY TMP",
             "T_4850 T_0000000000 F - - - - bonafide bonafide -",
             "T_1234 T_0000000001 M - - - AC3 A05 spoof -"]
    protocol = tmp_path / "ASVspoof5_protocols" / "ASVspoof5.train.tsv"
    protocol.parent.mkdir()
    protocol.write_text("\n".join(lines) + "\n")
    write_audio(tmp_path / "flac_T" / "T_0000000000.flac")
    write_audio(tmp_path / "flac_T" / "T_0000000001.flac")
    trials = list(RECIPES.get("asvspoof5").trials(tmp_path, "train"))
    assert [(t.id, t.label, t.attack) for t in trials] == [
        ("T_0000000000", "bonafide", "bonafide"), ("T_0000000001", "spoof", "A05")]
    assert trials[1].custom["attack_tag"] == "AC3" and trials[1].custom["gender"] == "M"
    assert all(t.audio_path(tmp_path).is_file() for t in trials)
    protocol.write_text(lines[1] + "\nT_1 T_2 F - - - - A01 maybe -\n")
    with pytest.raises(ManifestError, match=r"ASVspoof5.train.tsv:2: key: unknown label 'maybe'"):
        list(RECIPES.get("asvspoof5").trials(tmp_path, "train"))


def test_in_the_wild_meta_csv(tmp_path):
    sample = PROTOCOLS / "in_the_wild" / "meta_sample.csv"
    if not sample.is_file():
        pytest.skip("shared In-the-Wild meta sample not available")
    folder = tmp_path / "release_in_the_wild"
    folder.mkdir()
    (folder / "meta.csv").write_text(sample.read_text())
    rows = sample.read_text().splitlines()[1:]
    for seed, row in enumerate(rows):
        write_audio(folder / row.split(",")[0], seed=seed)
    report = prepare("in_the_wild", tmp_path, tmp_path / "out", progress=False)
    trials = list(read_manifest(report.splits[0].manifest))
    assert len(trials) == len(rows) == 8
    assert trials[0].path == "release_in_the_wild/10.wav" and trials[0].label == "spoof"
    assert trials[1].label == "bonafide" and trials[1].speaker == "Calvin_Coolidge"


def test_wavefake_tree(tmp_path):
    write_audio(tmp_path / "LJSpeech-1.1" / "wavs" / "LJ001-0001.wav", rate=22050)
    write_audio(tmp_path / "jsut_ver1.1" / "basic5000" / "wav" / "BASIC5000_0001.wav", rate=24000)
    write_audio(tmp_path / "generated_audio" / "ljspeech_melgan" / "LJ001-0001_gen.wav", rate=22050)
    write_audio(tmp_path / "generated_audio" / "jsut_parallel_wavegan" / "BASIC5000_0001_gen.wav")
    trials = list(RECIPES.get("wavefake").trials(tmp_path, "all"))
    by_id = {t.id: t for t in trials}
    assert len(trials) == 4
    assert by_id["ljspeech_melgan_LJ001-0001_gen"].attack == "melgan"
    assert by_id["ljspeech_melgan_LJ001-0001_gen"].custom["source_utterance"] == "LJ001-0001"
    assert by_id["jsut_parallel_wavegan_BASIC5000_0001_gen"].language == "ja"
    assert by_id["ljspeech_LJ001-0001"].label == "bonafide"


@pytest.mark.parametrize("version,outer,inner", [("norm", "for-norm", "for-norm"),
                                                 ("2sec", "for-2sec", "for-2seconds"),
                                                 ("rerec", "for-rerec", "for-rerecorded"),
                                                 ("original", "for-original", "for-original")])
def test_fakeorreal_versions(tmp_path, version, outer, inner):
    base = tmp_path / outer / inner
    for folder in ("training", "validation", "testing"):
        write_audio(base / folder / "real" / "file1.wav_16k.wav_norm.wav")
        write_audio(base / folder / "fake" / "file1.mp3.wav")
    recipe = RECIPES.get(f"fakeorreal_{version}")
    for split in ("train", "dev", "eval"):
        trials = list(recipe.trials(tmp_path, split))
        assert sorted(t.label for t in trials) == ["bonafide", "spoof"]
        assert all(t.audio_path(tmp_path).is_file() for t in trials)
    with pytest.raises(ManifestError, match="training"):
        list(recipe.trials(tmp_path / outer / inner / "training", "train"))


def test_mlaad_with_mailabs(tmp_path):
    model = tmp_path / "fake" / "de" / "tts_models_de_thorsten_vits"
    write_audio(model / "tts_models_de_thorsten_vits_0.wav")
    (model / "meta.csv").write_text(
        "path|original_file|language|is_original_language|duration|training_data|model_name|"
        "architecture|transcript\n./fake/de/tts_models_de_thorsten_vits/"
        "tts_models_de_thorsten_vits_0.wav|./de_DE/by_book/female/eva_k/grune_haus/wavs/"
        "grune_haus_01_f000001.wav|de|True|2.0|thorsten|tts_models/de/thorsten/vits|vits|Hallo\n")
    write_audio(tmp_path / "m-ailabs" / "de_DE" / "by_book" / "female" / "eva_k" / "grune_haus"
                / "wavs" / "grune_haus_01_f000001.wav")
    trials = list(RECIPES.get("mlaad").trials(tmp_path, "all"))
    bona, spoof = trials
    assert bona.label == "bonafide" and bona.speaker == "eva_k" and bona.language == "de"
    assert spoof.attack == "tts_models_de_thorsten_vits" and spoof.custom["architecture"] == "vits"
    assert spoof.custom["source_utterance"] == bona.custom["source_utterance"]


def test_generic_csv_and_folder(tmp_path):
    write_audio(tmp_path / "a" / "x.wav")
    write_audio(tmp_path / "a" / "y.wav")
    (tmp_path / "list.csv").write_text("path,label,split,codec\na/x.wav,real,train,mp3\n"
                                       "a/y.wav,fake,test,\n")
    recipe = RECIPES.get("csv")
    assert recipe.splits(tmp_path) == ["test", "train"]
    train = list(recipe.trials(tmp_path, "train"))
    assert train[0].label == "bonafide" and train[0].custom == {"codec": "mp3"}
    (tmp_path / "list.csv").write_text("path,label\na/x.wav,maybe\n")
    with pytest.raises(ManifestError, match=r"list.csv:2: label: unknown label 'maybe'"):
        list(recipe.trials(tmp_path, "all"))

    folder = tmp_path / "mine"
    write_audio(folder / "real" / "r.wav")
    write_audio(folder / "fake" / "melgan" / "f.wav")
    trials = list(RECIPES.get("folder").trials(folder, "all"))
    assert [(t.label, t.attack) for t in trials] == [("bonafide", "bonafide"), ("spoof", "melgan")]


def test_cli_prepare_and_list(tmp_path, capsys):
    folder = tmp_path / "mine"
    write_audio(folder / "train" / "real" / "r.wav")
    write_audio(folder / "train" / "fake" / "f.wav")
    write_audio(folder / "test" / "fake" / "g.wav")
    assert cli.main(["prepare", "folder", "--root", str(folder), "--out", str(tmp_path / "o")]) == 0
    assert "train: 2 trials" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["mine_test.jsonl.gz",
                                                                  "mine_train.jsonl.gz"]
    assert cli.main(["corpora", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["asvspoof2019_la"]["expected"] == {"train": 25380, "dev": 24844, "eval": 71237}
    assert rows["in_the_wild"]["expected"] == {"eval": 31779}
    assert cli.main(["prepare", "nope", "--root", str(folder), "--out", str(tmp_path)]) == 2


def test_missing_protocol_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["prepare", "asvspoof2019_la", "--root", str(tmp_path), "--out",
                     str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "ASVspoof 2019 LA CM protocol not found" in err
    assert "ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.train.trn.txt" in err
    with pytest.raises(ManifestError, match="unknown split 'test'"):
        RECIPES.get("asvspoof2019_la").trials(tmp_path, "test")


def test_prepare_probe_skips_unreadable_and_reports(tmp_path):
    folder = tmp_path / "mine"
    write_audio(folder / "real" / "ok.wav")
    (folder / "fake").mkdir()
    (folder / "fake" / "broken.wav").write_bytes(b"\x00" * 64)
    report = prepare("folder", folder, tmp_path / "out", probe=True, cache_dir=tmp_path / "c",
                     progress=False)
    split = report.splits[0]
    assert (split.listed, split.written, split.unreadable) == (2, 1, ["fake/broken.wav"])
    assert "1 unreadable skipped (e.g. fake/broken.wav)" in split.describe()
