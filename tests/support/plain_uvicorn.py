"""The same app under stock uvicorn (its httptools protocol, no fast path): the reference of differential tests.

Run as `python -m tests.support.plain_uvicorn --http 127.0.0.1:0 --data DIR`; it prints the
"tracking on" line `start_server` waits for.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from mailbeacon import service


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", default="127.0.0.1:0")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--smtp", default="off", help="ignored: no relay here")
    args = parser.parse_args()
    host, port = service.parse_hostport(args.http)
    settings = service.Settings(data_dir=args.data, http_host=host, http_port=port, relay=False)
    sock = service.bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    app, tracking, store = service.build_app(settings, stopping=asyncio.Event())
    config = service.uvicorn_config(app, tracking, settings)
    config.http = "httptools"  # uvicorn's own protocol class, instead of the fast path's
    print(f"mailbeacon: tracking on http://{bound_host}:{bound_port} (plain uvicorn)", flush=True)
    try:
        service.StoppingServer(config, asyncio.Event()).run(sockets=[sock])
    finally:
        store.close()
        sock.close()


if __name__ == "__main__":
    main()
