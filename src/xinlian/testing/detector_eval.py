"""Precision and recall of the Qi vulnerability detectors on a labelled corpus.

A corpus is a folder of `.qi` files and a `manifest.json` mapping each file name to its
labels: `{"files": {"c001.qi": {"vulnerabilities": ["tautology"], ...}}}`. A detector's
true positives are the files it flags that are labelled with it, its false positives the
files it flags that are not, its false negatives the labelled files it does not flag.
Only the manifest says what a file holds; the detectors never see file names.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from xinlian.lang.detect import find_issues
from xinlian.lang.detectors import DETECTORS


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class Evaluation:
    scores: dict[str, Score]
    files: int
    lines: int
    cpu_seconds: float  # parse, check and every detector, over the whole corpus


def labels(corpus: Path) -> dict[str, set[str]]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    return {name: set(entry["vulnerabilities"]) for name, entry in manifest["files"].items()}


def evaluate(corpus: Path) -> Evaluation:
    truth = labels(corpus)
    scores = {d.id: Score() for d in DETECTORS}
    lines = 0
    cpu = 0.0
    for name in sorted(truth):
        source = (corpus / "contracts" / name).read_text()
        lines += source.count("\n") + 1
        start = time.process_time()
        found = {f.detector for f in find_issues(source, "contract.qi")}
        cpu += time.process_time() - start
        for det, score in scores.items():
            if det in found and det in truth[name]:
                score.tp += 1
            elif det in found:
                score.fp += 1
                score.false_positives.append(name)
            elif det in truth[name]:
                score.fn += 1
                score.false_negatives.append(name)
    return Evaluation(scores, len(truth), lines, cpu)
