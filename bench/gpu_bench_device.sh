#!/usr/bin/env bash
# The GPU benches as ONE command for a lent CUDA machine (the `device` tool):
#   bash bench/gpu_bench_device.sh goals   issue 17: bench/gpu_goals.py (a 5-minute study, compiled and eager trials), ~8 min
#   bash bench/gpu_bench_device.sh         issue 13: bench/gpu.py (ceiling, end to end, the peer, sharing), under 10 minutes
# The machine has torch, torchvision, timm, psutil and nvidia-ml-py but no Ray, Optuna, MLflow, plotly or
# fastai and no network: those travel in .whl/site.tar.xz with Imagenette's label table, packed here
# first by `bash bench/device_bundle.sh` (VENV=... for another environment's versions). Then, from this checkout:
#     run(command="bash bench/gpu_bench_device.sh goals", carry=[".whl"], timeout_s=540)
# It writes to $OUT (default /tmp/out): the bench's JSON and table (gpu_goals_<card>.* or gpu_<card>.*), its
# log, nvidia-smi.txt, pytest_cuda.txt (the CUDA tests of the data path; SKIP_TESTS=1 skips them) and, for
# goals, study.tgz (the study folder's records, journals, summary and logs). Extra arguments go to the bench.
set -u
cd "$(dirname "$0")/.."
MODE=gpu
if [ "${1:-}" = goals ]; then MODE=goals; shift; fi
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/nvidia-smi.txt"
if [ ! -f .whl/site.tar.xz ]; then echo "no .whl/site.tar.xz: run bash bench/device_bundle.sh here first, carry .whl" >&2; exit 2; fi
mkdir -p /tmp/site && tar xJf .whl/site.tar.xz -C /tmp/site || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0 XRESNET_STUDY_DATA=/tmp/xs-data
python3 -c "import ray, optuna, mlflow, plotly, fastai, psutil, pynvml; print('bundle ok: plotly', plotly.__version__, 'fastai', fastai.__version__)" 2>&1 | tail -1 | tee "$OUT/bundle.txt"
[ -n "${SKIP_TESTS:-}" ] || timeout 60 python3 -m pytest -q -p no:cacheprovider -k cuda \
  tests/trainable/data/test_data_loader.py tests/trainable/data/test_data_resident.py 2>&1 | tail -4 | tee "$OUT/pytest_cuda.txt"
set -o pipefail
if [ "$MODE" = goals ]; then
  timeout 480 python3 bench/gpu_goals.py --out "$OUT" --work /tmp/gpu-goals "$@" 2>&1 | tee "$OUT/gpu_goals.log"
  rc=$?
  S=/tmp/gpu-goals/studies/studies/goals
  [ -d "$S" ] && (cd "$S" && find . -type f -size -3M ! -name '*.pt' ! -name '*.pkl' ! -path './ray/*' ! -path './compile/*' > /tmp/list \
    && tar czf "$OUT/study.tgz" -T /tmp/list)
  cp /tmp/gpu-goals/studies/goals.log "$OUT/study_launch.log" 2>/dev/null
  cp "$OUT"/gpu_goals_*.json "$OUT"/gpu_goals_*.md bench/results/ 2>/dev/null
else
  timeout 510 python3 bench/gpu.py --out "$OUT" --work /tmp/gpu-bench "$@" 2>&1 | tee "$OUT/gpu.log"
  rc=$?
  cp "$OUT"/gpu_*.json "$OUT"/gpu_*.md bench/results/ 2>/dev/null
fi
exit "$rc"
