"""Training and inference throughput of AutoEncoderTransformer against peers.

All contenders train the same 64-128-32-128-64 MLP with Adam, batch 256, for
3 epochs on the same 100,000 x 64 float32 array, in this one process:

- a minimal hand-written torch loop (index-permutation batches, no framework),
  with torch's default Adam (the reference) and with ``fused=True`` Adam
  (what skae uses for ``optimizer="adam"`` where the kernel exists),
- AutoEncoderTransformer (skae, on skorch),
- PyOD's AutoEncoder (batch norm and dropout off to match),
- scikit-learn's MLPRegressor trained X -> X.

Inference: ``transform`` against a bare ``no_grad`` encoder forward in large
chunks; for the peers their own scoring/prediction call. Each contender runs
``--repeats`` times interleaved and keeps its best time, so ratios survive a
busy machine better than absolute numbers; inference, which takes
milliseconds, is timed as the best of 10 calls in each repeat.

A second part measures peak resident memory of ``fit`` on 1,000,000 x 64 in a
fresh subprocess, and a third compares ``GridSearchCV`` with ``n_jobs=1`` and
``n_jobs=2`` (threads must not oversubscribe the cores).

With ``--device cuda`` the script measures the GPU path instead
(``results/speed_cuda.md``): the minimal loop with its rows on the GPU
against skae at its defaults (rows copied to the GPU once), with the rows
kept in host memory (pinned, non-blocking batch copies), with each batch's
loss read back at once (as before losses were read in groups), in bf16 and
fp16 mixed precision and with ``torch.compile``.

Usage::

    python benchmarks/bench_speed.py [--rows 100000] [--repeats 2] [--out benchmarks/results/speed.md]
    python benchmarks/bench_speed.py --device cuda --rows 1000000 --out benchmarks/results/speed_cuda.md
"""

import subprocess
import sys
import warnings

import numpy as np
import torch
from _common import (
    BENCH_DIR,
    Stopwatch,
    best_time,
    command_line,
    machine,
    markdown_table,
    produced_by,
    publish,
)
from torch import nn

from skae import AutoEncoderTransformer

N_FEATURES, HIDDEN, CODE, BATCH, EPOCHS = 64, 128, 32, 256, 3
#: Inference calls per contender and repeat; the best one is kept.
INFERENCE_CALLS = 10


def make_data(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_rows, 8), dtype=np.float32)
    mixing = rng.standard_normal((8, N_FEATURES), dtype=np.float32)
    X = np.tanh(latent @ mixing) + 0.1 * rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    return np.ascontiguousarray(X, dtype=np.float32)


# -- contenders ---------------------------------------------------------------
def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def minimal_loop(X, fused=False, device="cpu"):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(N_FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CODE))
    decoder = nn.Sequential(nn.Linear(CODE, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_FEATURES))
    model = nn.Sequential(encoder, decoder).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    synchronize(device)
    watch = Stopwatch()
    # The rows are copied to the device once, inside the timed region (skae
    # does the same inside fit).
    Xt = torch.from_numpy(X).to(device)
    for _ in range(EPOCHS):
        perm = torch.randperm(len(Xt), device=device)
        for i in range(0, len(Xt), BATCH):
            xb = Xt[perm[i : i + BATCH]]
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xb), xb)
            loss.backward()
            opt.step()
    synchronize(device)
    fit_time = watch.seconds
    X_host = torch.from_numpy(X)

    def infer():
        # From host rows to host codes, as transform does.
        with torch.inference_mode():
            for i in range(0, len(X_host), 16384):
                encoder(X_host[i : i + 16384].to(device)).cpu().numpy()

    return fit_time, best_time(infer, INFERENCE_CALLS)


def skae_ae(X, device="cpu", **params):
    ae = AutoEncoderTransformer(
        n_components=CODE,
        hidden_layer_sizes=(HIDDEN,),
        batch_size=BATCH,
        max_epochs=EPOCHS,
        n_iter_no_change=EPOCHS + 1,
        device=device,
        random_state=0,
        **params,
    )
    synchronize(device)
    watch = Stopwatch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X)
    synchronize(device)
    fit_time = watch.seconds
    return fit_time, best_time(lambda: ae.transform(X), INFERENCE_CALLS)


def pyod_ae(X):
    from pyod.models.auto_encoder import AutoEncoder

    det = AutoEncoder(
        hidden_neuron_list=[HIDDEN, CODE],
        epoch_num=EPOCHS,
        batch_size=BATCH,
        lr=1e-3,
        batch_norm=False,
        dropout_rate=0.0,
        preprocessing=False,
        verbose=0,
        random_state=0,
        device="cpu",
    )
    watch = Stopwatch()
    det.fit(X)
    fit_time = watch.seconds
    return fit_time, best_time(lambda: det.decision_function(X), INFERENCE_CALLS)


def sklearn_mlp(X):
    from sklearn.neural_network import MLPRegressor

    mlp = MLPRegressor(
        hidden_layer_sizes=(HIDDEN, CODE, HIDDEN),
        batch_size=BATCH,
        max_iter=EPOCHS,
        learning_rate_init=1e-3,
        random_state=0,
        tol=0,
        n_iter_no_change=EPOCHS + 1,
    )
    watch = Stopwatch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(X, X)
    fit_time = watch.seconds
    return fit_time, best_time(lambda: mlp.predict(X), INFERENCE_CALLS)


def minimal_loop_fused(X):
    return minimal_loop(X, fused=True)


CONTENDERS = {
    "minimal torch loop": minimal_loop,
    "minimal torch loop, fused Adam": minimal_loop_fused,
    "skae AutoEncoderTransformer": skae_ae,
    "PyOD AutoEncoder": pyod_ae,
    "sklearn MLPRegressor (X->X)": sklearn_mlp,
}


# -- the GPU path ---------------------------------------------------------------
def _rows_on_host(X):
    """skae with the rows kept in host memory, as for data larger than the GPU's."""
    from unittest import mock

    with mock.patch("skae._engine.data.DEVICE_DATA_FRACTION", 0.0):
        return skae_ae(X, "cuda")


def _losses_read_each_batch(X):
    """skae reading each batch's loss at once (``loss.item()``), as skorch does."""
    from unittest import mock

    with mock.patch("skae._engine.net.loss_read_batches", lambda device: 1):
        return skae_ae(X, "cuda")


CUDA_CONTENDERS = {
    "minimal torch loop": lambda X: minimal_loop(X, device="cuda"),
    "minimal torch loop, fused Adam": lambda X: minimal_loop(X, fused=True, device="cuda"),
    "skae AutoEncoderTransformer": lambda X: skae_ae(X, "cuda"),
    "skae, rows kept in host memory (pinned batches)": _rows_on_host,
    "skae, each batch's loss read at once (before)": _losses_read_each_batch,
    'skae, precision="bf16"': lambda X: skae_ae(X, "cuda", precision="bf16"),
    'skae, precision="fp16"': lambda X: skae_ae(X, "cuda", precision="fp16"),
    "skae, compile=True": lambda X: skae_ae(X, "cuda", compile=True),
    'skae, compile=True, precision="bf16"': lambda X: skae_ae(
        X, "cuda", compile=True, precision="bf16"
    ),
}


def run_throughput(n_rows, repeats, contenders=CONTENDERS):
    X = make_data(n_rows)
    best = {}
    for r in range(repeats):
        for name, fn in contenders.items():
            try:
                fit_t, inf_t = fn(X)
            except ImportError as exc:
                print(f"  skipped {name}: {exc}")
                continue
            old = best.get(name, (np.inf, np.inf))
            best[name] = (min(old[0], fit_t), min(old[1], inf_t))
            print(f"  run {r + 1}: {name:30s} fit {fit_t:6.2f} s  infer {inf_t:6.3f} s", flush=True)
    return {name: (n_rows * EPOCHS / f, n_rows / i) for name, (f, i) in best.items()}


def throughput_table(rates, reference="minimal torch loop"):
    """A markdown table of rates and their ratios to the ``reference`` contender's."""
    ref_fit, ref_inf = rates[reference]
    return markdown_table(
        ["contender", "fit rows/s", "fit ratio", "inference rows/s", "inference ratio"],
        [
            [
                name,
                f"{fit_rate:,.0f}",
                f"{fit_rate / ref_fit:.2f}",
                f"{inf_rate:,.0f}",
                f"{inf_rate / ref_inf:.2f}",
            ]
            for name, (fit_rate, inf_rate) in rates.items()
        ],
    )


# -- memory -------------------------------------------------------------------
MEMORY_SCRIPT = """
import sys, warnings, numpy as np
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
from bench_speed import make_data
from skae import AutoEncoderTransformer
import torch

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

# Warm up torch and skae on a small array so their one-off allocations are in
# the baseline, then reset the peak counter.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    AutoEncoderTransformer(max_epochs=1, device="cpu").fit(make_data(1000))
X = make_data({rows}).astype({dtype!r})
# The array is in place; the baseline is what the process held without it.
open("/proc/self/clear_refs", "w").write("5")
baseline = rss("VmRSS") - X.nbytes
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    AutoEncoderTransformer(n_components=32, hidden_layer_sizes=(128,), max_epochs=1,
                           device="cpu", random_state=0).fit(X)
print(baseline, rss("VmHWM"), X.nbytes)
"""


def run_memory(n_rows, dtype):
    code = MEMORY_SCRIPT.format(
        root=str(BENCH_DIR.parent), here=str(BENCH_DIR), rows=n_rows, dtype=dtype
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    baseline, peak, nbytes = map(int, out.stdout.split())
    return (peak - baseline) / nbytes, nbytes


# -- parallel search ------------------------------------------------------------
def run_search(n_rows):
    from sklearn.model_selection import GridSearchCV

    X = make_data(n_rows)
    times = {}
    for n_jobs in (1, 2, 1, 2):
        search = GridSearchCV(
            AutoEncoderTransformer(
                hidden_layer_sizes=(HIDDEN,), max_epochs=3, device="cpu", random_state=0
            ),
            {"n_components": [4, 8, 16, 32]},
            cv=2,
            n_jobs=n_jobs,
        )
        watch = Stopwatch()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(X)
        elapsed = watch.seconds
        times[n_jobs] = min(times.get(n_jobs, np.inf), elapsed)
        print(f"  GridSearchCV n_jobs={n_jobs}: {elapsed:.2f} s", flush=True)
    return times


def main():
    parser = command_line(__doc__, "speed.md")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--search-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=BATCH)
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="(--device cuda) run only the contenders of these names",
    )
    args = parser.parse_args()
    # The contenders read the network's width and the batch size from here.
    globals().update(BATCH=args.batch_size, HIDDEN=args.hidden)
    if args.device == "cuda":
        return main_cuda(args)

    watch = Stopwatch()
    print(
        f"Throughput on {args.rows} x {N_FEATURES} float32 "
        f"({machine()}, {torch.get_num_threads()} torch threads)"
    )
    rates = run_throughput(args.rows, args.repeats)
    print("Peak memory of fit")
    memory = {dtype: run_memory(args.memory_rows, dtype) for dtype in ("float32", "float64")}
    print("Parallel search")
    search = run_search(args.search_rows)

    command = f"python benchmarks/bench_speed.py --rows {args.rows} --repeats {args.repeats}"
    lines = [
        "# Speed and memory of AutoEncoderTransformer",
        "",
        produced_by(command, watch.seconds),
        "",
        f"## Throughput ({args.rows:,} x {N_FEATURES} float32, MLP 64-{HIDDEN}-32-{HIDDEN}-64, "
        f"Adam, batch {BATCH}, {EPOCHS} epochs, best of {args.repeats})",
        "",
        "Ratios are against the minimal torch loop measured in the same run "
        "(inference: against a bare no-grad encoder forward in 16,384-row chunks).",
        "",
        throughput_table(rates),
    ]
    lines += [
        "",
        "PyOD's inference is `decision_function` (full reconstruction and error), "
        "MLPRegressor's is `predict` (full forward): both do more than an encoder pass. "
        "skae's `transform` includes input validation (a finiteness pass over X) and "
        "writes one output array; the bare forward does neither.",
        "",
        f"## Peak memory of fit ({args.memory_rows:,} x {N_FEATURES}, 1 epoch)",
        "",
        "Peak resident memory above the warmed-up interpreter's baseline, as a multiple of "
        "the input array's size (the array itself counts: 1.0 = no overhead beyond the input).",
        "",
        markdown_table(
            ["input dtype", "input size", "peak above baseline"],
            [
                [dtype, f"{nbytes / 2**20:,.0f} MiB", f"{ratio:.2f} x"]
                for dtype, (ratio, nbytes) in memory.items()
            ],
        ),
        "",
        f"## GridSearchCV, 4 candidates x 2 folds ({args.search_rows:,} rows, 3 epochs each)",
        "",
        markdown_table(
            ["n_jobs", "seconds (best of 2)", "speed-up"],
            [
                [1, f"{search[1]:.2f}", "1.00"],
                [2, f"{search[2]:.2f}", f"{search[1] / search[2]:.2f}"],
            ],
            align="rrr",
        ),
        "",
        "## Changes measured with this script (skae's ratio, before -> after)",
        "",
        "| change | fit ratio | inference ratio |",
        "|---|---|---|",
        "| fused Adam when the optimizer is named and the kernel exists (b1c3382): "
        "the fused kernel made the minimal loop itself 1.26x faster | -> 1.05 | - |",
        "| inference timed as best of 10 calls (measurement only) | - | 0.71 -> 0.82 |",
        "| CPU inference chunks of 4,096 rows instead of 16,384 (activations stay in L2) "
        "| - | 0.82 -> 0.94 |",
        "| one home per mechanism (issue 10) and reliability (issue 12: a sum per "
        "inference chunk to refuse non-finite outputs, 14 us per 4,096 x 32 chunk; a "
        "state snapshot per warm or partial fit), measured 2026-11-27 on a noisy VM where "
        "two identical bare forwards differed by up to 24% between runs: back-to-back "
        "runs of the code before and after | 1.21 -> 1.21 | 0.91 -> 0.74 (earlier pair: "
        "0.77 -> 0.75) |",
        "| same, interleaved in one process with a bare forward, best of 80 calls of "
        "`transform` on 100,000 x 64, three runs (before / after) | - | "
        "0.822 / 0.798, 0.770 / 0.817, 25.71 / 25.68 ms |",
        "| fewer ways to do one thing (issue 27: one settings mapping for the engine, the "
        "data-parallel steps in a mixin; 398.9 Python calls per training step instead of "
        "397.8), measured 2026-12-03 single-threaded (OMP_NUM_THREADS=1) on a busy shared VM:"
        " back-to-back full runs of the code before and after. This table's ratios are lower "
        "than the 2-thread table before it (fit 1.18) because of the thread count (fused Adam"
        " gains less on one thread) and the load, not the code; PyOD is not installed in this"
        " environment, and n_jobs=2 competed with other jobs for the 2 cores | 0.87 -> 0.88 |"
        " 0.98 -> 1.06 |",
        "| same, interleaved in one process, best of 8 fits and 8 x 10 `transform` calls "
        "(before / after / minimal loop) | 0.984 -> 0.977 (0.986 / 0.993 / 0.970 s) | 0.955 "
        "-> 0.939 (31.9 / 32.5 / 30.5 ms) |",
        "",
    ]
    publish("\n".join(lines), args)


def main_cuda(args):
    if not torch.cuda.is_available():
        sys.exit("--device cuda: this machine has no CUDA GPU.")
    watch = Stopwatch()
    print(f"Throughput on {args.rows} x {N_FEATURES} float32 ({machine('cuda')})")
    contenders = {k: v for k, v in CUDA_CONTENDERS.items() if not args.only or k in args.only}
    rates = run_throughput(args.rows, args.repeats, contenders)
    command = (
        f"python benchmarks/bench_speed.py --device cuda --rows {args.rows} "
        f"--repeats {args.repeats} --batch-size {BATCH} --hidden {HIDDEN}"
    )
    lines = [
        "# Speed of AutoEncoderTransformer on a GPU",
        "",
        produced_by(command, watch.seconds, device="cuda"),
        "",
        f"## Throughput ({args.rows:,} x {N_FEATURES} float32, MLP 64-{HIDDEN}-32-{HIDDEN}-64, Adam, "
        f"batch {BATCH}, {EPOCHS} epochs, best of {args.repeats})",
        "",
        "Ratios are against the minimal torch loop on the same GPU in the same run: its rows "
        "copied to the GPU once, batches gathered there with a permutation drawn there, "
        "default (foreach) Adam, no loss ever read back. Inference: host rows to host "
        "codes, a bare no-grad encoder forward in 16,384-row chunks against `transform`. "
        "Fit times include copying the rows to the GPU and, for `compile=True`, the "
        "compilation (best of the repeats: the later ones reuse torch's compile cache).",
        "",
        throughput_table(rates),
        "",
    ]
    publish("\n".join(lines), args)


if __name__ == "__main__":
    main()
