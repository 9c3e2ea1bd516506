# The docbus worker image: `docker build -t docbus .`, then `docker run docbus worker`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ./client .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The runtime lock (no dev or bench tools), hash-checked; then docbus itself without
# resolving anything again, and pip check proves the lock holds everything it needs.
COPY requirements/runtime.txt /tmp/runtime.txt
RUN pip install --require-hashes -r /tmp/runtime.txt && rm /tmp/runtime.txt
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels && pip check \
    && useradd --system --uid 10001 --user-group --no-create-home docbus
USER docbus
WORKDIR /tmp
# /healthz, /readyz and /metrics (DOCBUS_HTTP_HOST defaults to every address).
ENV DOCBUS_HTTP_PORT=9464
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/readyz', timeout=3)"]
ENTRYPOINT ["docbus"]
CMD ["worker"]
