# mailbeacon in a container: slim Python, a non-root user, /healthz as the health check.
# Build: docker build -t mailbeacon .   Run: see docker-compose.yml and docs/production.md.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md /src/
COPY mailbeacon /src/mailbeacon
RUN python -m venv /opt/mailbeacon && /opt/mailbeacon/bin/pip install /src && rm -rf /src
RUN groupadd --system --gid 10001 mailbeacon \
 && useradd --system --uid 10001 --gid mailbeacon --home-dir /var/lib/mailbeacon --no-create-home mailbeacon \
 && mkdir -p /var/lib/mailbeacon && chown 10001:10001 /var/lib/mailbeacon && chmod 0700 /var/lib/mailbeacon

USER mailbeacon
WORKDIR /var/lib/mailbeacon
ENV PATH=/opt/mailbeacon/bin:$PATH MAILBEACON_DATA=/var/lib/mailbeacon MAILBEACON_HTTP=0.0.0.0:8080 \
    MAILBEACON_SMTP=0.0.0.0:2525
VOLUME /var/lib/mailbeacon
EXPOSE 8080 2525
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["mailbeacon"]
CMD ["serve"]
