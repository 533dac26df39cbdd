"""The labelled detector corpus: its generator reproduces the committed files, its labels
are well formed, and every detector finds most of what it is labelled with."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from xinlian.lang.detectors import DETECTORS
from xinlian.testing.detector_eval import evaluate, labels

CORPUS = Path(__file__).resolve().parent / "detect_corpus"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_generate", CORPUS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_the_committed_corpus() -> None:
    sources, generated = _generator().build()
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    assert manifest["files"] == generated
    on_disk = {p.name for p in (CORPUS / "contracts").glob("*.qi")}
    assert on_disk == set(sources)
    for name, text in sources.items():
        assert (CORPUS / "contracts" / name).read_text() == text


def test_labels_are_known_and_balanced() -> None:
    truth = labels(CORPUS)
    ids = {d.id for d in DETECTORS}
    assert len(truth) >= 100
    assert all(found <= ids for found in truth.values())
    vulnerable = sum(1 for found in truth.values() if found)
    assert 0.3 < vulnerable / len(truth) < 0.7
    for det in ids:  # every detector has labelled positives
        assert sum(det in found for found in truth.values()) >= 3


def test_every_detector_scores_on_the_corpus() -> None:
    result = evaluate(CORPUS)
    assert result.files == len(labels(CORPUS))
    for det, score in result.scores.items():
        assert score.recall is not None and score.recall >= 0.5, det
        assert score.precision is not None and score.precision >= 0.5, det
