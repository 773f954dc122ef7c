"""Fault injection on the data path (issue 12): a full codec cache, NaN/inf audio, codecs apply onto
its own input, file modes under a umask, and prepare on a wrong or incomplete corpus."""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spoofbench.atomic import write_json_atomic
from spoofbench.cli import main
from spoofbench.codecs import CodecCache, apply_condition
from spoofbench.corpora.manifest import Trial, read_manifest, write_manifest
from spoofbench.corpora.validate import rejects_path, validate_manifest
from spoofbench.errors import ManifestError

CONDITION = "g711_mulaw"  # cheap, always available (PyAV or ffmpeg)


def _speech_like(seconds: float = 1.0, rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


# --- 3. a codec cache that cannot write is bypassed with one warning -------------------------------

def _failing_write(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_cache_write_error_is_bypassed_with_one_warning(tmp_path, monkeypatch):
    cache = CodecCache(tmp_path / "cache")
    monkeypatch.setattr(cache, "_write", _failing_write)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coded = [apply_condition(_speech_like(seed=i), 16000, CONDITION, key=f"k{i}", cache=cache)
                 for i in range(4)]
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "No space left on device" in messages[0], messages
    assert all(c.shape == (16000,) and np.isfinite(c).all() for c in coded)
    assert cache.stats.write_errors == 4 and cache.stats.writes == 0 and cache.disabled


@contextlib.contextmanager
def _tiny_tmpfs(folder: Path):
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_scoring_through_a_full_cache_disk_scores_every_trial(tmp_path):
    """Real ENOSPC: the cache lives on a 32 KiB tmpfs; every trial is still coded and scored."""
    from spoofbench.engine import ScoreConfig, score
    from spoofbench.models import build_detector

    trials = []
    for i in range(6):
        sf.write(tmp_path / f"c{i}.wav", _speech_like(1.0, seed=i), 16000)
        trials.append(Trial(id=f"c{i}", path=f"c{i}.wav", label="bonafide" if i % 2 else "spoof",
                            corpus="x", split="eval"))
    with _tiny_tmpfs(tmp_path / "full") as cache_dir:
        config = ScoreConfig(codecs=(CONDITION,), num_workers=0, batch_size=3, cpu_threads=1,
                             cache_dir=str(cache_dir))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = score(build_detector("rawcnn_2m", "tiny"), trials, root=tmp_path, out_dir=tmp_path / "s",
                           testset="t", config=config, progress=False)
    cache_warnings = [w for w in caught if "codec cache" in str(w.message)]
    assert result.files[0].n_scored == 6 and result.files[0].n_failed == 0
    assert len(cache_warnings) == 1


# --- 4. non-finite samples are their own defect kind ---------------------------------------------

def test_validate_reports_non_finite_audio_and_keeps_it_out_of_the_clean_manifest(tmp_path):
    cases = {"good": None, "nan_block": (slice(4000, 4512), np.nan), "one_inf": (slice(9000, 9001), np.inf),
             "nan_only_block": (slice(0, 16000), np.nan)}
    trials = []
    for name, damage in cases.items():
        wave = _speech_like(2.0)
        if damage is not None:
            wave[damage[0]] = damage[1]
        sf.write(tmp_path / f"{name}.wav", wave, 16000, subtype="FLOAT")
        trials.append(Trial(id=name, path=f"{name}.wav", label="bonafide", corpus="x", split="eval"))
    # an otherwise silent file whose only block is NaN: non-finite, not "silent"
    silent = np.zeros(32000, dtype=np.float32)
    silent[:16000] = np.nan
    sf.write(tmp_path / "nan_and_zeros.wav", silent, 16000, subtype="FLOAT")
    trials.append(Trial(id="nan_and_zeros", path="nan_and_zeros.wav", label="spoof", corpus="x", split="eval"))
    write_manifest(tmp_path / "m.jsonl", trials)
    clean = tmp_path / "clean.jsonl"
    report = validate_manifest(tmp_path / "m.jsonl", tmp_path, write_clean=clean, progress=False)
    kinds = {}
    for problem in report.problems:
        kinds.setdefault(problem.trial_id, set()).add(problem.kind)
    assert kinds == {"nan_block": {"non_finite"}, "one_inf": {"non_finite"}, "nan_only_block": {"non_finite"},
                     "nan_and_zeros": {"non_finite"}}, kinds
    assert [t.id for t in read_manifest(clean)] == ["good"]
    assert "non_finite" in rejects_path(clean).read_text()
    assert main(["validate", str(tmp_path / "m.jsonl"), "--root", str(tmp_path)]) == 1


def test_scoring_refuses_non_finite_audio_per_trial_with_the_reason(tmp_path):
    from spoofbench.engine import ScoreConfig, score
    from spoofbench.models import build_detector

    wave = _speech_like(1.0)
    wave[100] = np.nan
    sf.write(tmp_path / "bad.wav", wave, 16000, subtype="FLOAT")
    sf.write(tmp_path / "ok.wav", _speech_like(1.0, seed=1), 16000)
    trials = [Trial(id=i, path=f"{i}.wav", label="bonafide", corpus="x", split="eval") for i in ("bad", "ok")]
    result = score(build_detector("rawcnn_2m", "tiny"), trials, root=tmp_path, out_dir=tmp_path / "s", testset="t",
                   config=ScoreConfig(num_workers=0, cpu_threads=1), progress=False)
    assert result.files[0].n_scored == 1 and result.files[0].n_failed == 1
    assert "non-finite" in result.files[0].failed.read_text()


# --- 5. codecs apply never overwrites its input; one-line errors ---------------------------------

@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "x.wav"
    sf.write(path, _speech_like(0.5), 16000)
    return path


@pytest.mark.parametrize("output", ["same", "symlink", "relative"])
def test_codecs_apply_refuses_to_overwrite_its_input(source, tmp_path, monkeypatch, output):
    before = source.read_bytes()
    monkeypatch.chdir(tmp_path)
    if output == "same":
        target = str(source)
    elif output == "symlink":
        (tmp_path / "link.wav").symlink_to(source)
        target = "link.wav"
    else:
        (tmp_path / "sub").mkdir()
        target = "sub/../x.wav"
    assert main(["codecs", "apply", CONDITION, "x.wav", target]) == 2
    assert source.read_bytes() == before


@pytest.mark.parametrize("case", ["output_dir", "missing_input", "input_dir"])
def test_codecs_apply_bad_paths_give_one_clear_line(source, tmp_path, case, capsys):
    args = {"output_dir": [str(source), str(tmp_path)],
            "missing_input": [str(tmp_path / "nope.wav"), str(tmp_path / "o.wav")],
            "input_dir": [str(tmp_path), str(tmp_path / "o.wav")]}[case]
    assert main(["codecs", "apply", CONDITION, *args]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "System error" not in err, err
    expected = {"output_dir": "output is a directory", "missing_input": "missing: no such file",
                "input_dir": "is a directory"}[case]
    assert expected in lines[0] and args[0 if case != "output_dir" else 1] in lines[0]


# --- 6. written files respect the umask ----------------------------------------------------------

@contextlib.contextmanager
def _umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_atomic_writes_respect_the_umask(tmp_path, mask, source):
    expected = 0o666 & ~mask
    with _umask(mask):
        write_json_atomic(tmp_path / "result.json", {"eer": 0.1})
        write_manifest(tmp_path / "m.jsonl.gz", [Trial(id="a", path="a.wav", label="spoof", corpus="x",
                                                       split="eval")])
        cache = CodecCache(tmp_path / "cache")
        apply_condition(_speech_like(), 16000, CONDITION, key="k", cache=cache)
        assert main(["codecs", "apply", CONDITION, str(source), str(tmp_path / "coded.wav")]) == 0
    entries = [p for p in (tmp_path / "cache").rglob("*.f32")]
    assert entries
    for path in [tmp_path / "result.json", tmp_path / "m.jsonl.gz", tmp_path / "coded.wav", *entries]:
        assert stat.S_IMODE(path.stat().st_mode) == expected, (path.name, oct(path.stat().st_mode))


def test_rewriting_a_file_keeps_its_mode(tmp_path):
    target = tmp_path / "result.json"
    write_json_atomic(target, {"a": 1})
    target.chmod(0o640)
    write_json_atomic(target, {"a": 2})
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


# --- prepare: nothing or too little found, duplicate ids ----------------------------------------

def _la_tree(root: Path, lines: list[str], present: set[str]) -> Path:
    protocols = root / "ASVspoof2019_LA_cm_protocols"
    protocols.mkdir(parents=True)
    (protocols / "ASVspoof2019.LA.cm.train.trn.txt").write_text("\n".join(lines) + "\n")
    audio = root / "ASVspoof2019_LA_train" / "flac"
    audio.mkdir(parents=True)
    for utt in present:
        sf.write(audio / f"{utt}.flac", _speech_like(0.2), 16000)
    return root


def test_prepare_missing_root_names_the_expected_layout(tmp_path, capsys):
    assert main(["prepare", "asvspoof2019_la", "--root", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "ASVspoof2019_LA_cm_protocols" in err and "Traceback" not in err


def test_prepare_on_a_different_layout_finds_nothing_and_fails(tmp_path, capsys):
    (tmp_path / "wavefake" / "somewhere_else").mkdir(parents=True)
    sf.write(tmp_path / "wavefake" / "somewhere_else" / "a.wav", _speech_like(0.2), 16000)
    assert main(["prepare", "wavefake", "--root", str(tmp_path / "wavefake"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "found no trials" in err and "generated_audio/" in err
    assert main(["prepare", "asvspoof2019_la", "--root", str(tmp_path / "wavefake"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no split of asvspoof2019_la found" in capsys.readouterr().err


def test_prepare_with_nearly_all_audio_missing_exits_1_unless_allowed(tmp_path, capsys):
    lines = [f"LA_0079 LA_T_{i:07d} - - bonafide" for i in range(2_538)]  # 1/10 of the real train list
    root = _la_tree(tmp_path / "la", lines, present={"LA_T_0000000"})
    args = ["prepare", "asvspoof2019_la", "--root", str(root), "--out", str(tmp_path / "o"), "--split", "train"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "2,537 of 2,538 listed files missing" in err and "--allow-missing" in err
    assert main([*args, "--allow-missing"]) == 0
    assert [t.id for t in read_manifest(tmp_path / "o" / "asvspoof2019_la_train.jsonl.gz")] == ["LA_T_0000000"]


def test_prepare_rejects_a_duplicate_id_with_file_and_line(tmp_path):
    lines = ["LA_0079 LA_T_1 - - bonafide", "LA_0079 LA_T_2 - A01 spoof", "LA_0079 LA_T_1 - - bonafide"]
    root = _la_tree(tmp_path / "la", lines, present={"LA_T_1", "LA_T_2"})
    from spoofbench.corpora.recipe import prepare

    with pytest.raises(ManifestError) as err:
        prepare("asvspoof2019_la", root, tmp_path / "o", splits=["train"], progress=False)
    text = str(err.value)
    assert "ASVspoof2019.LA.cm.train.trn.txt:3" in text and "duplicate trial id 'LA_T_1'" in text
    assert "trn.txt:1" in text  # where it was first listed
    assert not (tmp_path / "o" / "asvspoof2019_la_train.jsonl.gz").exists()


def test_models_score_refuses_non_finite_audio_instead_of_printing_nan(tmp_path, capsys):
    wave = _speech_like(1.0)
    wave[500:700] = np.nan
    sf.write(tmp_path / "nan.wav", wave, 16000, subtype="FLOAT")
    assert main(["models", "score", "rawcnn_2m", str(tmp_path / "nan.wav"), "--preset", "tiny", "--random-weights"]) == 2
    captured = capsys.readouterr()
    assert "nan" not in captured.out.lower()
    assert "non-finite samples: 200 (200 NaN, 0 infinite), first at sample 500" in captured.err
