"""spoofbench.audio_io: the one reader (libsndfile, else PyAV) and the one resampler (soxr)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spoofbench import audio_io
from spoofbench.audio_io import AudioReadError, NonFiniteAudioError, probe_audio, read_audio
from spoofbench.corpora.probe import probe_files

from testenv import REPO, SHARED

SAMPLES_2021 = SHARED / "corpora" / "asvspoof2021_samples"


def _needs(folder: Path) -> None:
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")


def _sine(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], axis=1)
    return wave.astype(np.float32)


def _write_aac(path: Path, wave: np.ndarray, rate: int) -> None:
    """An MP4/AAC file (libsndfile cannot open it; PyAV can)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(wave[None, :, 0].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture
def formats(tmp_path) -> dict[str, Path]:
    """One file per kind of reader path: WAV, FLAC, stereo MP3 (libsndfile), AAC (PyAV only)."""
    wave = _sine(16000, 1.3)
    files = {"wav": tmp_path / "a.wav", "flac": tmp_path / "a.flac", "mp3": tmp_path / "st.mp3",
             "aac": tmp_path / "a.m4a"}
    sf.write(files["wav"], wave, 16000, subtype="PCM_16")
    sf.write(files["flac"], wave, 16000, subtype="PCM_24")
    sf.write(files["mp3"], _sine(44100, 1.1, channels=2), 44100, format="MP3")
    _write_aac(files["aac"], wave, 16000)
    return files


def test_the_five_libsndfile_failures_decode_fully_with_pyav():
    _needs(SAMPLES_2021)
    failing = set((SAMPLES_2021 / "undecodable_by_libsndfile.txt").read_text().split())
    assert len(failing) == 5
    for path in sorted((SAMPLES_2021 / "flac").glob("*.flac")):
        wave, info = read_audio(path)
        header = probe_audio(path)
        assert info.num_samples == header.num_samples == info.declared_samples == wave.shape[0], path
        assert info.decoder == ("pyav" if path.stem in failing else "libsndfile"), path
        assert (info.fallback is not None) == (path.stem in failing)
        assert wave.dtype == np.float32 and np.isfinite(wave).all() and 0 < np.abs(wave).max() <= 1


def test_pyav_decodes_like_libsndfile_where_both_work():
    _needs(SAMPLES_2021)
    for path in sorted((SAMPLES_2021 / "flac").glob("LA_E_2329463.flac")):
        ours, _ = read_audio(path)
        stream = audio_io.open_stream(path, decoder="pyav")
        theirs = np.concatenate(list(stream.blocks()))[:, 0]
        np.testing.assert_array_equal(ours, theirs)


def test_header_probe_and_decoding_agree_on_every_path(formats):
    results = {r.path: r for r in probe_files([str(p) for p in formats.values()], serial=True)}
    for kind, path in formats.items():
        data, info = read_audio(path, mono=False)
        probed = results[str(path)]
        assert probed.ok, (kind, probed.error)
        assert probed.num_samples == data.shape[0] == info.num_samples, kind
        assert probed.sampling_rate == info.sample_rate and probed.channels == info.channels == data.shape[1]
    assert read_audio(formats["aac"])[1].decoder == "pyav"
    assert read_audio(formats["mp3"])[1].decoder == "libsndfile"


def test_stereo_is_averaged_and_resampled_by_soxr(formats):
    stereo, info = read_audio(formats["mp3"], mono=False)
    mono, info16 = read_audio(formats["mp3"], sample_rate=16000)
    assert info.channels == 2 and info16.output_rate == 16000 and info16.sample_rate == 44100
    expected = audio_io.resample(stereo.mean(axis=1, dtype=np.float32), 44100, 16000)
    np.testing.assert_array_equal(mono, expected)
    assert audio_io.resampler_info()["name"] == "soxr"


@pytest.mark.parametrize("case", ["nan_block", "single_inf", "all_nan"])
def test_non_finite_samples_are_their_own_error(tmp_path, case):
    wave = _sine(16000, 0.5)[:, 0]
    if case == "nan_block":
        wave[1000:1512] = np.nan
    elif case == "single_inf":
        wave[4321] = np.inf
    else:
        wave[:] = np.nan
    path = tmp_path / f"{case}.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    with pytest.raises(NonFiniteAudioError) as err:
        read_audio(path)
    assert err.value.kind == "non_finite" and str(path) in str(err.value)


def test_missing_empty_and_folder_are_one_clear_error(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 10)
    cases = {"missing": tmp_path / "nope.wav", "empty": tmp_path / "empty.wav",
             "unreadable": tmp_path / "junk.wav"}
    for kind, path in cases.items():
        with pytest.raises(AudioReadError) as err:
            read_audio(path)
        assert err.value.kind == kind and str(err.value).startswith(str(path))
        assert "\n" not in str(err.value)
    with pytest.raises(AudioReadError, match="directory"):
        read_audio(tmp_path)


def test_truncated_flac_is_still_truncated(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, 48000).astype(np.float32), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioReadError) as err:
        read_audio(path)
    assert err.value.kind in {"truncated", "unreadable"}


def test_audio_io_is_a_leaf_module():
    code = ("import sys, spoofbench.audio_io; "
            "print(sorted(m for m in sys.modules if m.startswith('spoofbench'))); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules, torch_loaded = out.splitlines()
    assert ast.literal_eval(modules) == ["spoofbench", "spoofbench.audio_io", "spoofbench.errors"]
    assert torch_loaded == "False"


def _is_module(name: str) -> bool:
    return (REPO / "benchmark" / f"{name}.py").is_file() or (REPO / "benchmark" / name).is_dir() \
        or name in {"models", "codecs"}


def _imported_modules(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "spoofbench":
            # `from spoofbench import audio_io` imports a module; `__version__` is the root's own
            found |= {f"spoofbench.{a.name}" if _is_module(a.name) else "spoofbench" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_plugins_import_only_errors_registry_and_leaf_helpers():
    """The import rule of docs/interfaces.md for spoofbench.codecs and spoofbench.models: errors,
    registry and the leaf helpers audio_io, atomic and configs (which import nothing of spoofbench but errors)."""
    for leaf in ("audio_io", "atomic", "configs"):
        own = {m for m in _imported_modules(REPO / "benchmark" / f"{leaf}.py") if m.startswith("spoofbench")}
        assert own <= {"spoofbench.errors"}, (leaf, own)
        relative = [n for n in ast.walk(ast.parse((REPO / "benchmark" / f"{leaf}.py").read_text()))
                    if isinstance(n, ast.ImportFrom) and n.level and n.module != "errors"]
        assert not relative, (leaf, [n.module for n in relative])
    allowed = {"spoofbench", "spoofbench.errors", "spoofbench.registry", "spoofbench.audio_io",
               "spoofbench.atomic", "spoofbench.configs", "spoofbench.hashing",  # hashing: standard library only
               "spoofbench.filecache"}  # the shared stat-keyed SQLite store and LRU eviction (codecs/cache.py)
    for folder in ("codecs", "models"):
        for source in (REPO / folder).rglob("*.py"):
            for name in _imported_modules(source):
                if name.startswith("spoofbench") and not name.startswith(f"spoofbench.{folder}"):
                    assert name in allowed, f"{source.relative_to(REPO)}: imports {name}"


def test_score_and_models_score_agree_on_a_44k_stereo_mp3(tmp_path, capsys):
    """One reader and one resampler: `spoofbench score` and `spoofbench models score` give the same
    score to a 44.1 kHz stereo MP3 (they differed by up to 0.12 with two resamplers)."""
    import torch

    from spoofbench.cli import main
    from spoofbench.corpora.manifest import Trial, write_manifest
    from spoofbench.metrics import read_scores
    from spoofbench.models import build_detector
    from spoofbench.models.base import save_checkpoint

    clip = tmp_path / "clip.mp3"
    rng = np.random.default_rng(7)
    stereo = (_sine(44100, 1.7, channels=2) + 0.05 * rng.standard_normal((int(44100 * 1.7), 2))) * 0.8
    sf.write(clip, stereo.astype(np.float32), 44100, format="MP3")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        detector = build_detector("rawcnn_2m", "tiny")
    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(detector, checkpoint)
    write_manifest(tmp_path / "m.jsonl", [Trial(id="clip", path="clip.mp3", label="spoof", corpus="x", split="eval")])
    assert main(["score", "--detector", "rawcnn_2m", "--preset", "tiny", "--checkpoint", str(checkpoint),
                 "--manifest", str(tmp_path / "m.jsonl"), "--root", str(tmp_path), "--out", str(tmp_path / "s"),
                 "--workers", "0", "--no-progress", "--testset", "t"]) == 0
    engine_score = read_scores(tmp_path / "s" / "t__none.txt")["clip"]
    capsys.readouterr()
    assert main(["models", "score", "rawcnn_2m", str(clip), "--preset", "tiny", "--checkpoint", str(checkpoint)]) == 0
    cli_score = float(capsys.readouterr().out.split()[-1])
    assert abs(engine_score - cli_score) <= 1e-6, (engine_score, cli_score)
    # and both saw the clip through the one resampler
    wave, info = read_audio(clip, sample_rate=detector.sample_rate)
    assert info.sample_rate == 44100 and info.channels == 2 and info.output_rate == detector.sample_rate
