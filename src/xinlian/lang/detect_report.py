"""The findings of `xinlian qi check` as text, JSON or SARIF 2.1.0 (for code-scanning
tools and editors): one report, three renderings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from xinlian.lang.detect_flow import Detector, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
TOOL = "xinlian qi check"


def text_report(findings: Sequence[Finding]) -> str:
    lines = [f"{f.file}:{f.line}:{f.col}: {f.severity}[{f.detector}]: {f.message}"
             for f in findings]
    lines.append(f"{len(findings)} finding(s)")
    return "\n".join(lines)


def json_report(findings: Sequence[Finding], detectors: Sequence[Detector]) -> str:
    return json.dumps({
        "detectors": [{"id": d.id, "severity": d.severity, "title": d.title}
                      for d in detectors],
        "findings": [f.to_json() for f in findings]}, indent=2)


def sarif_report(findings: Sequence[Finding], detectors: Sequence[Detector]) -> str:
    index = {d.id: i for i, d in enumerate(detectors)}
    rules = [{"id": d.id, "name": d.id,
              "shortDescription": {"text": d.title},
              "fullDescription": {"text": d.description},
              "defaultConfiguration": {"level": SARIF_LEVEL[d.severity]},
              "properties": {"severity": d.severity}} for d in detectors]
    results: list[dict[str, Any]] = [{
        "ruleId": f.detector, "ruleIndex": index[f.detector],
        "level": SARIF_LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": f.file},
            "region": {"startLine": f.line, "startColumn": f.col}}}],
    } for f in findings]
    return json.dumps({
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": TOOL, "rules": rules}},
                  "results": results}]}, indent=2)
