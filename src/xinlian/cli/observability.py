"""How a node process reports: its log lines (text or JSON, a level) and where it serves
metrics, from node.toml's `[log]` and `[metrics]` tables, overridden by `node start` flags.

JSON logs are one object per line, for log shippers (Loki, Elasticsearch, journald's JSON
export): `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message` (the
formatted message, so existing `log.warning("peer %s: %s", url, msg)` calls keep their
text), `fields` (what a call passes as `extra={...}`) and `exception` (a traceback) when
there is one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xinlian.node.errors import NodeConfigError

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# what every LogRecord carries; anything else on a record came from `extra=` (a field)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "fields": {k: v for k, v in vars(record).items() if k not in _STANDARD},
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


@dataclass(frozen=True)
class LogSettings:
    format: str = "text"
    level: str = "info"


def _table(config: dict[str, object], name: str, known: set[str]) -> dict[str, object]:
    table = config.get(name, {})
    if not isinstance(table, dict):
        raise NodeConfigError(f"[{name}] in node.toml must be a table")
    unknown = sorted(set(table) - known)
    if unknown:
        raise NodeConfigError(f"unknown [{name}] setting(s) {unknown}; known: {sorted(known)}")
    return table


def log_settings(config: dict[str, object], args: argparse.Namespace) -> LogSettings:
    """node.toml `[log] format, level`, each overridden by `--log-format`, `--log-level`."""
    table = _table(config, "log", {"format", "level"})
    fmt = args.log_format or table.get("format", LogSettings.format)
    level = args.log_level or table.get("level", LogSettings.level)
    if fmt not in FORMATS:
        raise NodeConfigError(f"[log] format must be one of {list(FORMATS)}, not {fmt!r}")
    if level not in LEVELS:
        raise NodeConfigError(f"[log] level must be one of {list(LEVELS)}, not {level!r}")
    return LogSettings(str(fmt), str(level))


def configure_logging(settings: LogSettings) -> None:
    """Send every logger's records at `settings.level` and above to stderr, formatted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())


def metrics_listen(config: dict[str, object], args: argparse.Namespace
                   ) -> tuple[str, int] | None:
    """Where to serve metrics: `--metrics-listen`, else node.toml `[metrics] listen`
    (host:port; port 0: any free port); None (the default): no metrics listener."""
    table = _table(config, "metrics", {"listen"})
    value = args.metrics_listen or table.get("listen")
    if value is None:
        return None
    host, _, port = str(value).rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise NodeConfigError(f"metrics listen address {value!r} is not host:port")
    return host, int(port)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """`node start`'s flags for logs and metrics."""
    parser.add_argument("--log-format", choices=FORMATS,
                        help="log lines as text or one JSON object per line "
                             "(overrides node.toml [log] format; default text)")
    parser.add_argument("--log-level", choices=LEVELS,
                        help="lowest level logged (overrides node.toml [log] level; "
                             "default info)")
    parser.add_argument("--metrics-listen", metavar="HOST:PORT",
                        help="serve /metrics, /health and /ready here (overrides "
                             "node.toml [metrics] listen; default: not served)")
