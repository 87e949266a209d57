#!/usr/bin/env bash
# One short GPU session, from the repository root on a machine with a CUDA build of torch
# (about 2–4 minutes on an H100): card, correctness on CUDA, then the benchmark.
#   OUT=/some/dir bash benchmarks/run_gpu.sh
set -euo pipefail
OUT=${OUT:-.}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! python -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  echo "run_gpu.sh: no CUDA device here (nvidia-smi missing or torch.cuda.is_available() false); run it on a GPU machine with a CUDA build of torch" >&2
  exit 2
fi
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python benchmarks/check_cuda.py 2>&1 | tee -a "$OUT/gpu.txt"
python benchmarks/bench_gd.py --device cuda --out "$OUT/bench_gpu.json" 2>&1 | tee -a "$OUT/gpu.txt"
