"""``hf_audio_classification``: a local transformers audio classifier, scored and trained through ``run``."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from spoofbench.cli import main
from spoofbench.errors import CheckpointError, DetectorError
from spoofbench.models import build_detector

from models_bench_util import make_corpus, run_tiny_benchmark


def _save_tiny_classifier(out: Path, labels: dict[int, str], rate: int = 16000) -> Path:
    """A random-init ~27 k-parameter wav2vec 2.0 classifier and its feature extractor, saved offline."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                            conv_dim=[16] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                            classifier_proj_size=16, id2label=labels,
                            label2id={v: k for k, v in labels.items()})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Wav2Vec2ForSequenceClassification(config)
    model.save_pretrained(out)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=rate, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory) -> Path:
    return _save_tiny_classifier(tmp_path_factory.mktemp("hf") / "tiny_w2v2", {0: "fake", 1: "real"})


def _waves() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return 0.1 * torch.randn(3, 6000, generator=g), torch.tensor([6000, 4000, 6000])


def test_scores_are_log_odds_of_the_model_on_its_extractors_input(hf_dir):
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    detector = build_detector("hf_audio_classification", checkpoint=hf_dir).eval()
    assert detector.sample_rate == 16000 and detector.bonafide == 1  # "real" found without a mapping
    waves, lengths = _waves()
    with torch.inference_mode():
        scores = detector.score(waves, lengths)
        model = AutoModelForAudioClassification.from_pretrained(hf_dir, local_files_only=True).eval()
        extractor = AutoFeatureExtractor.from_pretrained(hf_dir, local_files_only=True)
        for i in range(3):
            clip = waves[i, : int(lengths[i])].numpy()
            logits = model(**extractor([clip], sampling_rate=16000, return_tensors="pt")).logits[0]
            assert math.isclose(float(scores[i]), float(logits[1] - logits[0]), abs_tol=1e-5)
        # the extractor's per-utterance normalisation is honoured: loudness does not change the score
        assert torch.allclose(detector.score(3 * waves, lengths), scores, atol=1e-4)
        raw = build_detector("hf_audio_classification", checkpoint=hf_dir, score_mode="logit").eval()
        assert math.isclose(float(raw.score(waves[:1], lengths[:1])[0]),
                            float(model(**extractor([waves[0].numpy()], sampling_rate=16000,
                                                    return_tensors="pt")).logits[0, 1]), abs_tol=1e-5)


def test_sample_rate_and_label_mapping_come_from_the_directory(tmp_path):
    odd = _save_tiny_classifier(tmp_path / "odd", {0: "LABEL_0", 1: "LABEL_1"}, rate=8000)
    with pytest.raises(DetectorError, match=r"--bonafide-label.*|which label means bona fide"):
        build_detector("hf_audio_classification", checkpoint=odd)
    detector = build_detector("hf_audio_classification", checkpoint=odd, bonafide_label="LABEL_0")
    assert detector.sample_rate == 8000 and detector.bonafide == 0
    assert build_detector("hf_audio_classification", checkpoint=odd, bonafide_label="1").bonafide == 1
    with pytest.raises(DetectorError, match="'genuine' is not one of the model's labels"):
        build_detector("hf_audio_classification", checkpoint=odd, bonafide_label="genuine")


def test_a_hub_id_is_never_fetched_without_allow_download():
    with pytest.raises(CheckpointError, match="--allow-download"):
        build_detector("hf_audio_classification", checkpoint="someone/wav2vec2-deepfake-detector")
    with pytest.raises(CheckpointError, match="--allow-download"):
        build_detector("hf_audio_classification", model_path="someone/wav2vec2-deepfake-detector")


def test_a_saved_detector_rebuilds_without_the_directory(hf_dir, tmp_path):
    from spoofbench.models.base import save_checkpoint

    detector = build_detector("hf_audio_classification", checkpoint=hf_dir).eval()
    save_checkpoint(detector, tmp_path / "det.pt")
    moved = tmp_path / "moved"
    shutil.move(str(hf_dir), moved)
    try:
        again = build_detector("hf_audio_classification", checkpoint=tmp_path / "det.pt").eval()
    finally:
        shutil.move(str(moved), hf_dir)
    waves, lengths = _waves()
    with torch.inference_mode():
        assert torch.equal(again.score(waves, lengths), detector.score(waves, lengths))


def test_models_score_cli(hf_dir, tmp_path, capsys):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 16000)
    assert main(["models", "score", "hf_audio_classification", "--checkpoint", str(hf_dir),
                 "--bonafide-label", "real", str(tmp_path / "a.wav")]) == 0
    path, score = capsys.readouterr().out.strip().rsplit(" ", 1)
    assert path == str(tmp_path / "a.wav") and np.isfinite(float(score))
    assert main(["models", "score", "hf_audio_classification", "--checkpoint", "org/model",
                 str(tmp_path / "a.wav")]) == 2
    assert "--allow-download" in capsys.readouterr().err


@pytest.mark.slow
def test_trains_and_scores_through_run(hf_dir, tmp_path):
    root = make_corpus(tmp_path / "corpus")
    result = run_tiny_benchmark(root, tmp_path / "run", [
        {"name": "hf_audio_classification", "label": "hf_finetuned",
         "overrides": {"model_path": str(hf_dir), "num_samples": 8000}}])
    cells = {c["detector"]: c for c in result["cells"]}
    assert set(cells) == {"hf_finetuned"}
    for cell in cells.values():
        assert 0.0 <= cell["metrics"]["eer"] <= 1.0
    assert result["detectors"]["hf_finetuned"]["parameters"] > 20_000
    scores = sorted((tmp_path / "run").rglob("*.txt"))
    assert scores, "no score files written"


def test_freeze_options_and_the_tiny_preset():
    tiny = build_detector("hf_audio_classification", "tiny")
    assert all(p.requires_grad for p in tiny.parameters())
    assert tiny.input_policy.mode == "fixed" and tiny.bonafide == 1
    frozen_convs = build_detector("hf_audio_classification", "tiny", freeze="feature_encoder")
    trainable = {n for n, p in frozen_convs.named_parameters() if p.requires_grad}
    assert trainable and not any(".feature_extractor." in n for n in trainable)
    head_only = build_detector("hf_audio_classification", "tiny", freeze="base")
    assert {n.split(".")[1] for n, p in head_only.named_parameters() if p.requires_grad} <= {"projector",
                                                                                            "classifier"}
    with pytest.raises(DetectorError, match="freeze='all'"):
        build_detector("hf_audio_classification", "tiny", freeze="all")
