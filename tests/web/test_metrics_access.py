"""Who may read `/metrics` on the tracking port (issue #12, item 17): an admin's API key, or anyone with --public-metrics."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.dashboard import Session, add_user
from tests.support.servers import running_server


def test_metrics_need_an_admin_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    admin = add_user(data, "ada@example.com", "--admin")
    basic = add_user(data, "bea@example.com", password=None)
    with running_server(data) as server:
        url = f"{server.url}/metrics"
        anonymous = httpx.get(url, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert "mailbeacon_" not in anonymous.text
        assert httpx.get(url, headers={"Authorization": "Bearer mb_guessed"}, timeout=10).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {basic['api_key']}"}, timeout=10).status_code == 403
        keyed = httpx.get(url, headers={"Authorization": f"Bearer {admin['api_key']}"}, timeout=10)
        assert keyed.status_code == 200
        assert "\nmailbeacon_spool_depth 0\n" in "\n" + keyed.text
        with Session(server.url) as dashboard:  # an admin's browser session is not a monitoring key
            dashboard.login("ada@example.com")
            assert dashboard.logged_in()
            assert dashboard.get("/metrics").status_code == 401
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200, "health stays open"


def test_public_metrics_when_the_operator_says_so(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--public-metrics") as server:
        response = httpx.get(f"{server.url}/metrics", timeout=10)
        assert response.status_code == 200 and "mailbeacon_requests_total" in response.text
