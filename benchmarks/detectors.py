"""The Qi vulnerability detectors: precision and recall per detector on the labelled corpus
(tests/lang/detect_corpus), and their run time per 1,000 lines (`make bench-verifier`).

Run time is CPU time (time.process_time, best of 3), so it holds on a loaded machine:
`detect_per_kloc_s` is the detectors alone on already checked programs,
`check_and_detect_per_kloc_s` parse + type check + detectors (what `xinlian qi check`
does), each over the whole corpus (many small contracts) and over one large generated
contract (a single program of about 2,000 lines, where per-program costs do not dominate).
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.report import emit
from xinlian.lang import checker, parser
from xinlian.lang.detect import context_of, find_issues
from xinlian.lang.detectors import DETECTORS
from xinlian.testing.detector_eval import evaluate, labels

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "lang" / "detect_corpus"

LARGE_FN = """
    pub fn move_$i(to: address, amount: u64) {
        let have = balances[caller()];
        require(have >= amount, "low");
        balances[caller()] = have - amount;
        balances[to] += amount;
        if amount > limit { total += 1; }
        emit Moved(caller(), to, amount);
    }
"""


def large_contract(functions: int) -> str:
    body = "".join(LARGE_FN.replace("$i", str(i)) for i in range(functions))
    return ("contract Big {\n    state balances: map<address, u64>;\n    state limit: u64;\n"
            "    state total: u64;\n    event Moved(from: address, to: address, amount: u64);\n"
            "    pub view fn get(w: address) -> u64 { return balances[w] + limit + total; }\n"
            f"{body}}}\n")


def _timed(sources: list[str]) -> tuple[float, float]:
    """CPU seconds (best of 3) to run the detectors on checked programs, and to parse,
    check and run them."""
    trees = [(s, parser.parse(s, "bench.qi")) for s in sources]
    progs = [(tree, s, checker.check(tree, s)) for s, tree in trees]
    best_detect = best_all = float("inf")
    for _ in range(3):
        start = time.process_time()
        for tree, s, prog in progs:
            ctx = context_of(tree, s, prog)
            for d in DETECTORS:
                d.run(ctx)
        best_detect = min(best_detect, time.process_time() - start)
        start = time.process_time()
        for s in sources:
            find_issues(s, "bench.qi")
        best_all = min(best_all, time.process_time() - start)
    return best_detect, best_all


def main() -> None:
    result = evaluate(CORPUS)
    truth = labels(CORPUS)
    emit("detectors", "corpus_files", result.files, "files", lines=result.lines,
         vulnerable=sum(1 for t in truth.values() if t))
    for det, score in result.scores.items():
        emit("detectors", "precision", score.precision or 0.0, "ratio", detector=det,
             tp=score.tp, fp=score.fp, fn=score.fn)
        emit("detectors", "recall", score.recall or 0.0, "ratio", detector=det,
             tp=score.tp, fp=score.fp, fn=score.fn)
    corpus = [(CORPUS / "contracts" / n).read_text() for n in sorted(truth)]
    big = large_contract(230)
    for label, sources in (("corpus", corpus), ("large_contract", [big])):
        lines = sum(s.count("\n") + 1 for s in sources)
        detect_s, all_s = _timed(sources)
        emit("detectors", "detect_per_kloc_s", detect_s / lines * 1000, "s", input=label,
             lines=lines, programs=len(sources), clock="process_time")
        emit("detectors", "check_and_detect_per_kloc_s", all_s / lines * 1000, "s",
             input=label, lines=lines, programs=len(sources), clock="process_time")


if __name__ == "__main__":
    main()
