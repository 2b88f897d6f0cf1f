"""`serve --log-format json`: every log record a JSON line naming the node (issue 17, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailbeacon.cli import main
from tests.support.servers import running_server


def _loose_data_dir(tmp_path: Path) -> Path:
    """A data directory open to others: the server logs a warning about it as it starts."""
    data = tmp_path / "data"
    assert CliRunner().invoke(main, ["init", "--data", str(data)]).exit_code == 0
    data.chmod(0o755)
    return data


def test_json_log_lines_carry_the_node_name(tmp_path: Path) -> None:
    data = _loose_data_dir(tmp_path)
    with running_server(data, "--log-format", "json", "--node-name", "node-7") as server:
        lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    assert lines, server.output()
    for line in lines:
        assert line["node"] == "node-7" and line["level"] in ("info", "warning", "error") and line["time"]
    warned = [line for line in lines if line["logger"] == "mailbeacon.service" and line["level"] == "warning"]
    assert warned and "now private" in warned[0]["message"], lines


def test_text_log_lines_name_the_node_and_level_filters(tmp_path: Path) -> None:
    data = _loose_data_dir(tmp_path)
    with running_server(data, "--node-name", "node-8", "--log-level", "error") as server:
        pass
    assert "now private" not in server.output()  # a warning, below --log-level error
    data.chmod(0o755)
    with running_server(data, "--node-name", "node-8") as server:
        pass
    line = next(line for line in server.output().splitlines() if "now private" in line)
    assert " WARNING mailbeacon.service [node-8] " in line, line
