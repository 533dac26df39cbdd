"""Log lines (text or JSON, a level) and the metrics address from node.toml and the flags
of `node start` (cli/observability.py)."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator

import pytest

from xinlian.cli.observability import (
    LogSettings,
    configure_logging,
    log_settings,
    metrics_listen,
)
from xinlian.node.errors import NodeConfigError


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def flags(**given: str) -> argparse.Namespace:
    values = {"log_format": None, "log_level": None, "metrics_listen": None}
    return argparse.Namespace(**{**values, **given})


def test_json_lines_carry_time_level_logger_message_fields_and_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings("json", "info"))
    log = logging.getLogger("xinlian.test")
    log.debug("not at info")
    log.warning("peer %s: %s", "http://a", "forged header", extra={"peer": "http://a",
                                                                   "height": 7})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("task %s failed", "t")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["level"] == "warning" and first["logger"] == "xinlian.test"
    assert first["message"] == "peer http://a: forged header"
    assert first["fields"] == {"peer": "http://a", "height": 7}
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert "exception" not in first
    assert second["level"] == "error" and second["message"] == "task t failed"
    assert "ValueError: boom" in second["exception"] and second["fields"] == {}


def test_text_lines_and_the_level_flag(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_settings({"log": {"format": "json", "level": "error"}},
                                   flags(log_format="text", log_level="debug")))
    logging.getLogger("xinlian.test").debug("shown at %s", "debug")
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("DEBUG xinlian.test: shown at debug")


def test_settings_from_node_toml_and_their_errors() -> None:
    assert log_settings({}, flags()) == LogSettings("text", "info")
    assert log_settings({"log": {"format": "json"}}, flags()) == LogSettings("json", "info")
    bad_tables: list[dict[str, object]] = [{"log": {"level": "loud"}}, {"log": {"format": "xml"}},
                                           {"log": {"colour": True}}, {"log": "json"}]
    for bad in bad_tables:
        with pytest.raises(NodeConfigError):
            log_settings(bad, flags())
    assert metrics_listen({}, flags()) is None  # off unless asked for
    assert metrics_listen({"metrics": {"listen": "0.0.0.0:9545"}}, flags()) == ("0.0.0.0", 9545)
    assert metrics_listen({"metrics": {"listen": "0.0.0.0:9545"}},
                          flags(metrics_listen="127.0.0.1:0")) == ("127.0.0.1", 0)
    for bad_value in ("9545", "host:port", "h:70000"):
        with pytest.raises(NodeConfigError):
            metrics_listen({"metrics": {"listen": bad_value}}, flags())
    with pytest.raises(NodeConfigError):
        metrics_listen({"metrics": {"port": 9545}}, flags())
