#!/usr/bin/env bash
# Packs the orchestration packages a lent GPU machine lacks (its image has torch, numpy, pandas,
# matplotlib, scipy, scikit-learn, rich, timm, psutil, nvidia-ml-py … but no Ray, Optuna, MLflow,
# plotly (the study's dashboard) or fastai, and it cannot reach a package registry) into .whl/site.tar.xz,
# for CPython 3.12 on x86-64, pinned to the versions of this checkout's .venv. Parts no study
# uses there are pruned (Ray's Java jars, dashboard web build, RLlib, Serve; MLflow's web UI) so the
# archive fits the device tool's 64 MiB. fastai (bench/gpu.py's peer) comes as its pure-Python wheels
# with --no-deps, without its heavy extras (spacy): fastai, fastcore, fastdownload, fasttransform,
# plum-dispatch, beartype, and fastprogress 1.0.3 (1.1 imports python-fasthtml). Imagenette's label
# table (bench/gpu.py's data) is copied beside it, since ../shared does not travel. On the device:
#     mkdir -p /tmp/site && tar xJf .whl/site.tar.xz -C /tmp/site && export PYTHONPATH=/tmp/site:$PWD
# VENV names the virtual environment whose versions are pinned (default: this checkout's .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
pins=$("$VENV"/bin/pip freeze | grep -iE '^(plotly|narwhals|ray|optuna|optuna-dashboard|mlflow|mlflow-skinny|mlflow-tracing|alembic|sqlalchemy|mako|colorlog|cachetools|gitpython|gitdb|smmap|importlib_metadata|zipp|opentelemetry-[a-z-]+|pydantic|pydantic_core|annotated-types|typing-inspection|typing_extensions|python-dotenv|sqlparse|fastapi|starlette|uvicorn|h11|anyio|jsonschema|jsonschema-specifications|referencing|rpds-py|tensorboardx|protobuf|databricks-sdk|google-auth|pyasn1|pyasn1_modules|flask|werkzeug|itsdangerous|blinker|flask-cors|graphene|graphql-core|graphql-relay|gunicorn|huey|docker|click|cloudpickle|msgpack|packaging|pyyaml|requests|urllib3|idna|certifi|charset-normalizer|filelock|prettytable|wcwidth|bottle|tqdm|annotated-doc|cryptography|cffi|pycparser)==')
# bench/gpu.py's peer (tested with these on CPU in its --smoke run)
fastai_pins='fastai==2.8.12 fastcore==2.2.41 fastdownload==0.0.8 fasttransform==0.0.5 plum-dispatch==2.9.0 beartype==0.23.1 fastprogress==1.0.3'
site=$(mktemp -d)
python3 -m pip install -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_34_x86_64 --target "$site" $pins $fastai_pins
rm -rf "$site"/ray/jars "$site"/ray/rllib "$site"/ray/serve "$site"/ray/llm "$site"/ray/dashboard/client/build \
       "$site"/mlflow/server/js/build "$site"/bin
find "$site" -name __pycache__ -prune -exec rm -rf {} +
mkdir -p .whl
cp ../shared/data/imagenette/noisy_imagenette.csv .whl/
tar cf - -C "$site" . | xz -T0 -6 > .whl/site.tar.xz
du -sh "$site" .whl/site.tar.xz
size=$(stat -c %s .whl/site.tar.xz)
rm -rf "$site"
# the device tool carries at most 64 MiB in all (.whl with the label table, the checkout, the rest of `carry`)
if [ "$size" -gt $((60 << 20)) ]; then echo "error: .whl/site.tar.xz is $size bytes, over 60 MiB: prune more" >&2; exit 1; fi
