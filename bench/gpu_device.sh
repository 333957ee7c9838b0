#!/usr/bin/env bash
# The GPU checks, as one command for a lent CUDA machine (the `device` tool), whose image has torch
# but not Ray, Optuna or MLflow: those come from .whl/site.tar.xz (bench/device_bundle.sh).
#     bash bench/gpu_device.sh        # writes its logs and gpu_study.json to $OUT (default /tmp/out)
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
if ! python3 -c "import ray, optuna, mlflow" 2>/dev/null; then
  mkdir -p /tmp/site && tar xJf .whl/site.tar.xz -C /tmp/site || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0 XRESNET_STUDY_DATA=/tmp/xs-data
[ -n "${SKIP_TESTS:-}" ] || python3 -m pytest -q -p no:cacheprovider tests/trainable/data/test_data_loader.py 2>&1 | tail -4 | tee "$OUT/pytest_cuda.txt"
python3 bench/gpu_study.py --out /tmp/gs "$@" 2>&1 | tee "$OUT/gpu_study.log"
rc=${PIPESTATUS[0]}
cp /tmp/gs/gpu_study.json "$OUT/" 2>/dev/null
tar czf "$OUT/study_logs.tgz" -C /tmp/gs --exclude=data --exclude='*/ray' --exclude='*/checkpoints' . 2>/dev/null
exit "$rc"
