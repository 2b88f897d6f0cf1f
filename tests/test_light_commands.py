"""Commands that only open the store import none of the server's modules (issue 17, item 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SERVER_MODULES = ("uvicorn", "starlette", "aiosmtpd", "jinja2", "httpx", "mailbeacon.service", "mailbeacon.web",
                  "mailbeacon.relay")
PROBE = """
import json, sys
from click.testing import CliRunner
from mailbeacon.cli import main
result = CliRunner().invoke(main, sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {prefixes!r} or m.startswith({prefixes!r}))
print(json.dumps({{"code": result.exit_code, "output": result.output, "loaded": loaded}}))
"""


def _run(*args: str) -> dict[str, object]:
    code = PROBE.format(prefixes=SERVER_MODULES)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=True)
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_dnt_list_imports_no_server_module(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _run("init", "--data", str(data))["code"] == 0
    assert _run("dnt", "add", "bob@example.org", "--global", "--data", str(data))["code"] == 0
    listed = _run("dnt", "list", "--data", str(data))
    assert listed["code"] == 0 and "bob@example.org" in str(listed["output"]), listed
    assert listed["loaded"] == [], listed
