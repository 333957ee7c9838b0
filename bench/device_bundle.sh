#!/usr/bin/env bash
# Packs the orchestration packages a lent GPU machine lacks (its image has torch, numpy, pandas …
# but no Ray, Optuna or MLflow, and it cannot reach a package registry) into .whl/site.tar.xz,
# for CPython 3.12 on x86-64, pinned to the versions of this checkout's .venv. Parts no study
# uses there are pruned (Ray's Java jars, dashboard web build, RLlib, Serve; MLflow's web UI) so the
# archive fits the device tool's 64 MiB. On the device:
#     mkdir -p /tmp/site && tar xJf .whl/site.tar.xz -C /tmp/site && export PYTHONPATH=/tmp/site:$PWD
set -euo pipefail
cd "$(dirname "$0")/.."
pins=$(.venv/bin/pip freeze | grep -iE '^(ray|optuna|optuna-dashboard|mlflow|mlflow-skinny|mlflow-tracing|alembic|sqlalchemy|mako|colorlog|cachetools|gitpython|gitdb|smmap|importlib_metadata|zipp|opentelemetry-[a-z-]+|pydantic|pydantic_core|annotated-types|typing-inspection|typing_extensions|python-dotenv|sqlparse|fastapi|starlette|uvicorn|h11|anyio|jsonschema|jsonschema-specifications|referencing|rpds-py|tensorboardx|protobuf|databricks-sdk|google-auth|pyasn1|pyasn1_modules|flask|werkzeug|itsdangerous|blinker|flask-cors|graphene|graphql-core|graphql-relay|gunicorn|huey|docker|click|cloudpickle|msgpack|packaging|pyyaml|requests|urllib3|idna|certifi|charset-normalizer|filelock|prettytable|wcwidth|bottle|tqdm|annotated-doc|cryptography|cffi|pycparser)==')
site=$(mktemp -d)
python3 -m pip install -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_34_x86_64 --target "$site" $pins
rm -rf "$site"/ray/jars "$site"/ray/rllib "$site"/ray/serve "$site"/ray/llm "$site"/ray/dashboard/client/build \
       "$site"/mlflow/server/js/build "$site"/bin
find "$site" -name __pycache__ -prune -exec rm -rf {} +
mkdir -p .whl
tar cf - -C "$site" . | xz -T0 -6 > .whl/site.tar.xz
du -sh "$site" .whl/site.tar.xz
rm -rf "$site"
