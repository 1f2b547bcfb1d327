#!/usr/bin/env bash
# The GPU checks, in one call on a machine with a CUDA GPU and PyTorch:
# skae's tests that exercise the device (the CUDA-only ones among them),
# then the GPU throughput benchmark. skorch and scikit-learn travel as
# wheels in .whl/ when the machine lacks them (no network there):
#
#   pip download --no-deps --only-binary=:all: -d .whl skorch==1.4.0 scikit-learn==1.9.1
#   OUT=/tmp/out bash benchmarks/run_cuda.sh
#
# Logs and benchmarks/results/speed_cuda.md land in $OUT.
set -u
OUT=${OUT:-/tmp/skae-cuda}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, sklearn, skorch, sys; print(sys.version.split()[0], torch.__version__, sklearn.__version__, skorch.__version__, torch.cuda.get_device_name())" || exit 1
timeout 240 python3 -m pytest -q -p no:cacheprovider -n 8 -rs \
    tests/test_accelerators.py tests/test_autoencoder.py tests/test_persistence.py \
    tests/test_net.py tests/test_streaming.py tests/test_denoising.py tests/test_vq.py \
    tests/test_outlier.py tests/test_sample_weight.py > "$OUT/pytest.log" 2>&1
echo "pytest exit $?"; grep -E "passed|failed|FAILED|Error" "$OUT/pytest.log" | tail -30
timeout 300 python3 benchmarks/bench_speed.py --device cuda --rows 1000000 --repeats 2 \
    --out "$OUT/speed_cuda.md" > "$OUT/bench.log" 2>&1
echo "bench exit $?"; tail -22 "$OUT/bench.log"
