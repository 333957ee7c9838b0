#!/usr/bin/env bash
# bench/gpu.py (issue 13) as ONE command for a lent CUDA machine (the `device` tool), under 10 minutes.
# The machine has torch, torchvision, timm, psutil and nvidia-ml-py but no Ray, Optuna, MLflow or
# fastai and no network: those travel in .whl/site.tar.xz with Imagenette's label table, packed here
# first by `bash bench/device_bundle.sh`. Then, from this checkout:
#     run(command="bash bench/gpu_bench_device.sh", carry=[".whl"], timeout_s=600)
# It writes to $OUT (default /tmp/out): gpu_<card>.json, gpu_<card>.md, gpu.log, nvidia-smi.txt and
# pytest_cuda.txt (the CUDA tests of the data path). Extra arguments go to bench/gpu.py.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/nvidia-smi.txt"
if [ ! -f .whl/site.tar.xz ]; then echo "no .whl/site.tar.xz: run bash bench/device_bundle.sh here first, carry .whl" >&2; exit 2; fi
mkdir -p /tmp/site && tar xJf .whl/site.tar.xz -C /tmp/site || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0 XRESNET_STUDY_DATA=/tmp/xs-data
python3 -c "import ray, optuna, mlflow, fastai, psutil, pynvml; print('bundle ok: fastai', fastai.__version__)" 2>&1 | tail -1 | tee "$OUT/bundle.txt"
[ -n "${SKIP_TESTS:-}" ] || timeout 60 python3 -m pytest -q -p no:cacheprovider -k cuda \
  tests/trainable/data/test_data_loader.py tests/trainable/data/test_data_resident.py 2>&1 | tail -4 | tee "$OUT/pytest_cuda.txt"
set -o pipefail
timeout 510 python3 bench/gpu.py --out "$OUT" --work /tmp/gpu-bench "$@" 2>&1 | tee "$OUT/gpu.log"
rc=$?
cp "$OUT"/gpu_*.json "$OUT"/gpu_*.md bench/results/ 2>/dev/null
exit "$rc"
