"""One-off sweep: detector rules that might serve clean and contaminated training alike.

Issue 11 asks for one ``AEOutlierDetector`` default that is right whether the
training rows are clean (one-class) or contaminated. The fixed 30% x 2 trim is
good contaminated and bad clean; data-decided fences the opposite (see
``results/detect_choices.md``). This script measures further rules on the
splits of ``bench_detect.py`` (``split``: random 60/40, the clean protocol
keeps the normal training rows only, standardized on the training rows),
seeds 0-1, both protocols. Labels are read only to compute the ROC-AUC of the
test scores, never at fit time. Every autoencoder is the detector's default
one (``_default_estimator``) on the CPU, seeded as ``AEOutlierDetector(
random_state=seed)`` seeds it, so the row "default" is the default detector
without its density term (``density_weight=0``, the default until the rule
"default + VAE60 kept (2)" of kind ``core+short vae`` became the default).

Rules (each a *variant*; the names are those of the report):

- ``untrimmed``: one fit on all rows; ``trim30 once``: one refit without the
  30% worst rebuilt rows; ``default``: two such steps (the default).
- soft trimming, (a): refit on all rows with ``sample_weight`` decreasing in the
  previous fit's anomaly score, once (``1 step``) or twice (``2 steps``).
  Weights: ``rank`` -- 1 below the median score, then falling linearly with
  the score's rank to 0 at the top; ``biweight c`` -- Tukey's biweight of the
  robust z of the log score, ``z = (log s - median) / (1.4826 MAD)``,
  ``w = (1 - (z / c)^2)^2`` for ``0 < z < c``, 1 below the median, 0 beyond
  ``c``. The log error of clean data is near-normal, so a biweight at c = 4
  leaves clean rows almost whole.
- (d): trim 30% once, then a final refit on *all* rows weighted (rank or
  biweight 2.5) by the trimmed fit's scores; and the default followed by
  such a final refit (rank weights).
- (b): the default's (or the untrimmed fit's) score plus ``w`` times the
  Ledoit-Wolf Mahalanobis distance of the code to the training codes, each
  centred on its training median and divided by its training IQR.
- (c): the same robust sum of an autoencoder score and the VAE's minus
  log-likelihood (``VariationalAutoEncoder(random_state=seed)`` at its
  defaults, as ``bench_detect.py``'s "-log-likelihood" row).
- peers: IsolationForest, LocalOutlierFactor(novelty=True), OneClassSVM and
  PCA error, as ``bench_detect.py`` runs them; PyOD AutoEncoder and VAE
  are taken from ``results/detect.csv`` (same splits and seeds) for the
  ranks on the nine sets.

Jobs run in parallel processes, one thread each; every variant's time is the
sum of the fits and scoring passes it needs, measured inside its job (so
compare it with the peers' times of the same run only).

After the nine sets, the rules that meet both must-holds of the issue (clean
mean ROC-AUC at least IsolationForest's and the best mean rank among the
peers; contaminated mean ROC-AUC at least 0.896) -- or, when none does, the
two nearest -- are run again on the 14 ``odds-more`` sets, as far as
``--deadline`` allows.

Usage::

    python benchmarks/sweep_protocols.py --out /tmp/sweep            # all, 14 processes
    python benchmarks/sweep_protocols.py --data DIR --more DIR --workers 14 --deadline 380
    python benchmarks/sweep_protocols.py --datasets WBC --kinds core peers --more none
    python benchmarks/sweep_protocols.py --summarize /tmp/sweep/records.jsonl

``--data``/``--more`` default to the shared folders ``bench_detect.py`` uses
(give a copy's path on a machine without them); ``--out`` defaults to
``$OUT``, where ``records.jsonl`` (one ROC-AUC per variant, task and seed)
and the reports are written. The results of the run are in
``results/detect_choices.md``, section "Rules for both protocols" (2026-11-27).
"""

import argparse
import json
import os
import sys
import time
import warnings
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA_DIR, MORE_DATA_DIR, RESULTS_DIR, load_odds

SEEDS = (0, 1)
PROTOCOLS = ("clean", "contaminated")
CONTAMINATED_BAR = 0.896
PEERS = ("IsolationForest", "LocalOutlierFactor", "OneClassSVM", "PCA error")
PYOD_PEERS = ("PyOD AutoEncoder", "PyOD VAE")
SOFT_RULES = ("rank", "biweight 2.5", "biweight 4")
SHORT_VAE_EPOCHS = (20, 60)


def load_odds_sets(names, folder):
    """``{name: (X, y)}`` of the ``.npz`` sets in ``folder`` (any folder, e.g. a copy)."""
    files = sorted(Path(folder).glob("*.npz"))
    if not files:
        sys.exit(f"error: no ODDS datasets (*.npz) in {folder}")
    sets = {}
    for path in files:
        name = path.stem.split("_", 1)[-1]
        if not names or name in names:
            sets[name] = load_odds(path.name, Path(folder))
    return dict(sorted(sets.items(), key=lambda item: item[0].lower()))


# -- weights and scores (no labels) ------------------------------------------------
def robust_z_log(scores):
    """Robust z of the log scores: (log s - median) / (1.4826 MAD)."""
    logs = np.log(np.maximum(scores, np.finfo(np.float64).tiny))
    median = np.median(logs)
    mad = 1.4826 * np.median(np.abs(logs - median))
    return (logs - median) / max(mad, 1e-12)


def soft_weights(scores, rule):
    """Row weights in [0, 1] that fall with the anomaly score, by ``rule``."""
    scores = np.where(np.isfinite(scores), scores, np.nanmax(scores[np.isfinite(scores)]) * 10)
    if rule == "rank":
        p = (np.argsort(np.argsort(scores)) + 0.5) / len(scores)
        return np.clip(2 * (1 - p), 0, 1)
    c = float(rule.split()[1])
    z = robust_z_log(scores)
    w = (1 - (np.clip(z, 0, c) / c) ** 2) ** 2
    return np.where(z <= 0, 1.0, w)


def robust_scale(scores, train):
    """Centre on the training median, in training IQRs."""
    q1, median, q3 = np.percentile(train, [25, 50, 75])
    return (scores - median) / max(q3 - q1, 1e-12)


# -- one job: one kind of fits on one (protocol, dataset, seed) --------------------
def _detector(X_train, seed):
    from skae import AEOutlierDetector
    from skae._outlier.defaults import default_estimator as _default_estimator

    # The default autoencoder, on the CPU; seeded as AEOutlierDetector(random_state=seed).
    # One plain fit: the rules below do their own trimming and density terms.
    return AEOutlierDetector(
        _default_estimator(X_train.shape[1]).set_params(device="cpu"),
        trim_fraction=0.0,
        density_weight=0.0,
        random_state=seed,
    )


class _Fits:
    """Fits of the default autoencoder on one training set, timed."""

    def __init__(self, X_train, X_test, seed):
        self.X_train, self.X_test, self.seed = X_train, X_test, seed

    def fit(self, keep=None, weight=None):
        """Fit on ``X_train[keep]`` (weighted); return (detector, train, test, seconds)."""
        start = time.perf_counter()
        det = _detector(self.X_train, self.seed)
        X = self.X_train if keep is None else self.X_train[keep]
        det.fit(X, sample_weight=weight)
        test = -det.score_samples(self.X_test)
        seconds = time.perf_counter() - start
        train = -det.score_samples(self.X_train)  # fit-time work, not timed as scoring
        return det, train, test, seconds

    @staticmethod
    def trim(train, fraction=0.3):
        return train <= np.quantile(train, 1 - fraction)

    def default(self):
        """The default's three fits: (scores of the second, the third's base, seconds)."""
        _, tr0, _, s0 = self.fit()
        _, tr1, _, s1 = self.fit(self.trim(tr0))
        _, tr2, te2, s2 = self.fit(self.trim(tr1))
        secs = s0 + s1 + s2
        return tr1, {"train": tr2, "test": te2, "seconds": secs}

    def short_vae(self, keep=None, epochs=60):
        """A VAE on ``X_train[keep]`` at the detector's budget: (vae, fit seconds)."""
        from skae import VariationalAutoEncoder

        start = time.perf_counter()
        vae = VariationalAutoEncoder(
            device="cpu", max_epochs=epochs, batch_size=128, lr=3e-3, random_state=self.seed
        ).fit(self.X_train if keep is None else self.X_train[keep])
        return vae, time.perf_counter() - start

    def vae_base(self, vae, seconds):
        """Minus the VAE's log-likelihood as a base; scoring the test rows is timed."""
        start = time.perf_counter()
        test = -vae.score_samples(self.X_test)
        seconds += time.perf_counter() - start
        return {"train": -vae.score_samples(self.X_train), "test": test, "seconds": seconds}


def _latent(det, X_train, X_test):
    """Ledoit-Wolf Mahalanobis distance of the codes: (train, test, seconds)."""
    from sklearn.covariance import LedoitWolf

    start = time.perf_counter()
    Z_train = det.estimator_.transform(X_train)
    lw = LedoitWolf().fit(Z_train)
    test = lw.mahalanobis(det.estimator_.transform(X_test))
    return lw.mahalanobis(Z_train), test, time.perf_counter() - start


def warm_up():
    """Per worker: one thread, imports and a tiny fit of each kind outside the timings."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    from bench_detect import METHODS

    from skae import VariationalAutoEncoder

    X = np.random.RandomState(0).normal(size=(64, 4))
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _detector(X, 0).fit(X).score_samples(X)
        VariationalAutoEncoder(device="cpu", max_epochs=2).fit(X).score_samples(X)
        for peer in PEERS:
            METHODS[peer](0).fit(X).anomaly(X)


def run_job(job):
    """Fit one kind on one task; return a list of base scores with times."""
    import torch
    from threadpoolctl import threadpool_limits

    kind, _collection, protocol, name, seed, folder = job
    torch.set_num_threads(1)
    from bench_detect import METHODS, split

    X, y = load_odds_sets([name], Path(folder))[name]
    X_train, X_test, _ = split(protocol, X, y, seed)  # y_test is recomputed by the caller
    out = {}  # base name -> dict(train=..., test=..., seconds=...)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = _Fits(X_train, X_test, seed)
        if kind == "core":
            d0, tr0, te0, s0 = fits.fit()
            out["untrimmed"] = {"train": tr0, "test": te0, "seconds": s0}
            _d1, tr1, te1, s1 = fits.fit(fits.trim(tr0))
            out["trim30 once"] = {"train": tr1, "test": te1, "seconds": s0 + s1}
            d2, tr2, te2, s2 = fits.fit(fits.trim(tr1))
            out["default"] = {"train": tr2, "test": te2, "seconds": s0 + s1 + s2}
            for base, det, secs in (
                ("untrimmed", d0, s0),
                ("default", d2, s0 + s1 + s2),
            ):
                ltr, lte, ls = _latent(det, X_train, X_test)
                out[f"latent of {base}"] = {
                    "train": ltr,
                    "test": lte,
                    "seconds": secs + ls,
                }
        elif kind.startswith("soft "):
            rule = kind[5:]
            _, tr, _, secs = fits.fit()
            for step in (1, 2):
                _, tr, te, s = fits.fit(weight=soft_weights(tr, rule))
                secs += s
                out[f"soft {rule}, {step} step{'s' * (step > 1)}"] = {
                    "train": tr,
                    "test": te,
                    "seconds": secs,
                }
        elif kind == "trim-then-weight":
            _, tr0, _, s0 = fits.fit()
            _, tr1, _, s1 = fits.fit(fits.trim(tr0))
            for rule in ("rank", "biweight 2.5"):
                _, tr, te, s = fits.fit(weight=soft_weights(tr1, rule))
                out[f"trim30 once, then all rows weighted ({rule})"] = {
                    "train": tr,
                    "test": te,
                    "seconds": s0 + s1 + s,
                }
            _, tr2, _, s2 = fits.fit(fits.trim(tr1))
            _, tr, te, s = fits.fit(weight=soft_weights(tr2, "rank"))
            out["default, then all rows weighted (rank)"] = {
                "train": tr,
                "test": te,
                "seconds": s0 + s1 + s2 + s,
            }
        elif kind == "vae":
            from skae import VariationalAutoEncoder

            start = time.perf_counter()
            vae = VariationalAutoEncoder(device="cpu", random_state=seed).fit(X_train)
            te = -vae.score_samples(X_test)
            secs = time.perf_counter() - start
            out["VAE -log-likelihood"] = {
                "train": -vae.score_samples(X_train),
                "test": te,
                "seconds": secs,
            }
        elif kind == "core+short vae":
            # The default's fits, then short VAEs (the detector's budget, not
            # 300 epochs) on all rows and on the rows the default kept.
            tr1, out["default"] = fits.default()
            for rows, keep in (("all", None), ("kept", fits.trim(tr1))):
                # On kept rows the VAE needs the default's fits first.
                before = 0.0 if keep is None else out["default"]["seconds"]
                for epochs in SHORT_VAE_EPOCHS:
                    vae, secs = fits.short_vae(keep, epochs)
                    out[f"VAE{epochs} {rows} -ll"] = fits.vae_base(vae, before + secs)
        elif kind == "core+vae trims":
            # The default's fits, then 60-epoch VAEs on the rows below the
            # 90th / 80th percentile of the default's (last) scores.
            _, out["default"] = fits.default()
            last, before = out["default"]["train"], out["default"]["seconds"]
            for keep_share in (0.9, 0.8):
                vae, secs = fits.short_vae(fits.trim(last, 1 - keep_share))
                out[f"VAE60 kept {keep_share:.0%} of last -ll"] = fits.vae_base(vae, before + secs)
        elif kind == "ae once+vae":
            # Cheaper: one autoencoder fit, its 30% trim, a 60-epoch VAE on the
            # kept rows, scored with 16 (the VAE's default) or 4 importance samples.
            _, tr0, _, s0 = fits.fit()
            vae, secs = fits.short_vae(fits.trim(tr0))
            for samples in (16, 4):
                vae.set_params(n_importance_samples=samples)
                out[f"AE once, VAE60 kept, {samples} samples -ll"] = fits.vae_base(vae, s0 + secs)
        elif kind == "peers":
            for peer in PEERS:
                start = time.perf_counter()
                method = METHODS[peer](seed).fit(X_train)
                te = np.asarray(method.anomaly(X_test), dtype=np.float64)
                out[peer] = {
                    "train": None,
                    "test": te,
                    "seconds": time.perf_counter() - start,
                }
        else:
            raise ValueError(kind)
    return job, out


KINDS = (
    "vae",
    "core",
    "core+short vae",
    "core+vae trims",
    "ae once+vae",
    "trim-then-weight",
    "peers",
) + tuple(f"soft {r}" for r in SOFT_RULES)

# Variants made of bases in the caller: name -> [(weight, base)], robust sums.
COMBOS = {
    "default + latent (0.5)": [(1, "default"), (0.5, "latent of default")],
    "default + latent (1)": [(1, "default"), (1, "latent of default")],
    "untrimmed + latent (1)": [(1, "untrimmed"), (1, "latent of untrimmed")],
    "default + VAE (1)": [(1, "default"), (1, "VAE -log-likelihood")],
    "default + VAE (0.5)": [(1, "default"), (0.5, "VAE -log-likelihood")],
    "default + VAE (2)": [(1, "default"), (2, "VAE -log-likelihood")],
    "trim30 once + VAE (0.5)": [(1, "trim30 once"), (0.5, "VAE -log-likelihood")],
    "trim30 once + VAE (1)": [(1, "trim30 once"), (1, "VAE -log-likelihood")],
    "untrimmed + VAE (1)": [(1, "untrimmed"), (1, "VAE -log-likelihood")],
}
for _epochs in (20, 60):
    for _rows in ("all", "kept"):
        _base = f"VAE{_epochs} {_rows} -ll"
        for _w in (1, 2):
            # "kept": the VAE's seconds already include the default's fits.
            COMBOS[f"default + {_base} ({_w})"] = [(1, "default"), (_w, _base)]
for _share in ("90%", "80%"):
    for _w in (1, 2):
        COMBOS[f"default + VAE60 kept {_share} of last ({_w})"] = [
            (1, "default"),
            (_w, f"VAE60 kept {_share} of last -ll"),
        ]
NOT_VARIANTS = ("latent of default", "latent of untrimmed")


def variant_kinds(variant):
    """The job kinds a variant needs."""
    if variant in COMBOS:
        return set().union(*(variant_kinds(base) for _, base in COMBOS[variant]))
    if variant.startswith("soft "):
        return {"soft " + variant[5:].split(",")[0]}
    if " of last -ll" in variant:
        return {"core+vae trims"}
    if variant.startswith("AE once"):
        return {"ae once+vae"}
    if variant.startswith("VAE") and " -ll" in variant:
        return {"core+short vae"}
    if variant.startswith("VAE"):
        return {"vae"}
    if variant in PEERS:
        return {"peers"}
    if " then all rows weighted" in variant:
        return {"trim-then-weight"}
    return {"core"}


def records_of(job, out, phase):
    """ROC-AUC records of one job's bases (and the combos complete within it)."""
    from bench_detect import split
    from sklearn.metrics import roc_auc_score

    _kind, collection, protocol, name, seed, folder = job
    X, y = load_odds_sets([name], Path(folder))[name]
    y_test = split(protocol, X, y, seed)[2]
    rows = []
    for base, r in out.items():
        if base in NOT_VARIANTS:
            continue
        rows.append(
            {
                "phase": phase,
                "collection": collection,
                "protocol": protocol,
                "dataset": name,
                "seed": seed,
                "variant": base,
                "auc": float(roc_auc_score(y_test, r["test"])),
                "seconds": r["seconds"],
            }
        )
    return rows, y_test


def combo_records(bases, y_test, meta):
    """Records of the COMBOS whose bases are all in ``bases``."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for variant, parts in COMBOS.items():
        if not all(base in bases for _, base in parts):
            continue
        score = sum(w * robust_scale(bases[b]["test"], bases[b]["train"]) for w, b in parts)
        # A latent term reuses its autoencoder's fits (its seconds include them).
        times = [bases[b]["seconds"] for _, b in parts]
        latent = any(b.startswith("latent") or " kept " in b for _, b in parts)
        seconds = max(times) if latent else sum(times)
        rows.append(
            dict(
                meta,
                variant=variant,
                auc=float(roc_auc_score(y_test, score)),
                seconds=seconds,
            )
        )
    return rows


# -- driving -----------------------------------------------------------------------
_COST = {
    "vae": 40,
    "core+short vae": 12,
    "ae once+vae": 6,
    "core+vae trims": 12,
    "peers": 6,
    "core": 3.5,
    "trim-then-weight": 6,
}


def make_jobs(kinds, collection, folder, names, seeds):
    jobs = []
    sets = load_odds_sets(names, Path(folder))
    for name, (X, _) in sets.items():
        size = X.shape[0] * (1 + X.shape[1] / 30)
        for protocol in PROTOCOLS:
            for seed in seeds:
                for kind in kinds:
                    jobs.append(
                        (
                            (kind, collection, protocol, name, seed, str(folder)),
                            size * _COST.get(kind, 3),
                        )
                    )
    return [job for job, _ in sorted(jobs, key=lambda item: -item[1])]


def run_phase(jobs, phase, workers, deadline, sink):
    """Run ``jobs`` in a pool until done or ``deadline`` (time.time()); return records."""
    records, bases = [], {}
    with get_context("spawn").Pool(workers, initializer=warm_up) as pool:
        pending = pool.imap_unordered(run_job, jobs)
        for _ in range(len(jobs)):
            try:
                job, out = pending.next(timeout=max(1.0, deadline - time.time()))
            except Exception as exc:  # noqa: BLE001 - timeout or a failed job
                print(f"phase {phase}: stopped ({type(exc).__name__}: {exc})", flush=True)
                if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
                    pool.terminate()
                    break
                continue
            rows, y_test = records_of(job, out, phase)
            key = job[1:5]
            task = bases.setdefault(key, {"bases": {}, "done": set()})
            task["bases"].update(out)
            task["y"] = y_test
            meta = {
                "phase": phase,
                "collection": job[1],
                "protocol": job[2],
                "dataset": job[3],
                "seed": job[4],
            }
            combos = combo_records(task["bases"], y_test, meta)
            new = [r for r in combos if r["variant"] not in task["done"]]
            task["done"].update(r["variant"] for r in new)
            for row in rows + new:
                sink.write(json.dumps(row) + "\n")
            sink.flush()
            records += rows + new
            print(
                f"{phase}: {job[0]:<18} {job[2]:<12} {job[3]:<12} seed {job[4]}",
                flush=True,
            )
    return records


def pyod_records(seeds):
    """PyOD peers' ROC-AUC on the nine sets, from results/detect.csv (same splits)."""
    import csv

    path = RESULTS_DIR / "detect.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["method"] in PYOD_PEERS and r["collection"] == "odds" and int(r["seed"]) in seeds
        ]
    return [
        {
            "phase": "nine",
            "collection": "odds",
            "protocol": r["protocol"],
            "dataset": r["dataset"],
            "seed": int(r["seed"]),
            "variant": r["method"],
            "auc": float(r["auc"]),
            "seconds": float("nan"),
        }
        for r in rows
    ]


def margins(records, collection="odds"):
    """Plain-Python check of the must-holds (no pandas): variants by margin, best first.

    The margin is the smallest of clean mean ROC-AUC - IsolationForest's,
    contaminated mean ROC-AUC - 0.896, and 0.01 x (the best peer's mean rank
    - the variant's) on the clean protocol; >= 0 meets both must-holds.
    """
    from scipy.stats import rankdata

    auc = {}  # protocol -> variant -> dataset -> [aucs]
    for r in records:
        if r["collection"] == collection:
            auc.setdefault(r["protocol"], {}).setdefault(r["variant"], {}).setdefault(
                r["dataset"], []
            ).append(r["auc"])
    means, ranks = {}, {}
    for protocol, by_variant in auc.items():
        sets = sorted(by_variant.get("IsolationForest", {}))
        full = {
            v: [np.mean(d[s]) for s in sets]
            for v, d in by_variant.items()
            if all(s in d for s in sets)
        }
        peers = [p for p in PEERS + PYOD_PEERS if p in full]
        for v, values in full.items():
            means[protocol, v] = float(np.mean(values))
            cols = peers + ([v] if v not in peers else [])
            table = -np.array([full[c] for c in cols])  # rank 1 = highest AUC
            r = np.array([rankdata(table[:, j]) for j in range(len(sets))]).mean(axis=0)
            ranks[protocol, v] = (
                r[cols.index(v)],
                min(r[i] for i, c in enumerate(cols) if c != v),
            )
    forest = means.get(("clean", "IsolationForest"), np.inf)
    margin = {}
    for protocol, v in list(means):
        if protocol != "clean" or v in PEERS + PYOD_PEERS or ("contaminated", v) not in means:
            continue
        own, best_peer = ranks["clean", v]
        margin[v] = min(
            means["clean", v] - forest,
            means["contaminated", v] - CONTAMINATED_BAR,
            0.01 * (best_peer - own),
        )
    return sorted(margin, key=lambda v: -margin[v]), margin


def summarize(records, collection):
    """Per protocol: per-variant mean AUC, mean rank among peers, seconds; per-set AUC."""
    import pandas as pd

    frame = pd.DataFrame(records)
    frame = frame[frame.collection == collection]
    tables, per_set = {}, {}
    for protocol in PROTOCOLS:
        part = frame[frame.protocol == protocol]
        # Only the tasks complete for a variant count (every set, every seed).
        auc = part.groupby(["dataset", "variant"]).auc.mean().unstack("variant")
        n_seeds = part.groupby(["dataset", "variant"]).seed.nunique().unstack("variant")
        auc = auc.where(n_seeds == n_seeds.max().max())
        # A run cut by its deadline: keep the sets IsolationForest and the
        # default finished on, then the variants complete on all of them.
        auc = auc[auc[[c for c in ("IsolationForest", "default") if c in auc]].notna().all(axis=1)]
        auc = auc.loc[:, auc.notna().all()]
        seconds = part.groupby("variant").seconds.sum(min_count=1)
        peers = [p for p in PEERS + PYOD_PEERS if p in auc.columns]
        ranks = {}
        for variant in auc.columns:
            cols = peers + ([variant] if variant not in peers else [])
            ranks[variant] = auc[cols].rank(axis=1, ascending=False)[variant].mean()
        table = pd.DataFrame(
            {
                "mean ROC-AUC": auc.mean(),
                "mean rank vs peers": pd.Series(ranks),
                "peers' best mean rank": pd.Series(
                    {
                        v: min(
                            (
                                auc[[q for q in peers if q != v] + [v]]
                                .rank(axis=1, ascending=False)[q]
                                .mean()
                                for q in peers
                                if q != v
                            ),
                            default=np.nan,
                        )
                        for v in auc.columns
                    }
                ),
                "fit+score s": seconds.reindex(auc.columns),
            }
        )
        tables[protocol] = table
        per_set[protocol] = auc
    return tables, per_set


def report(records, collection):
    """Markdown tables of one collection (needs pandas and tabulate)."""
    import pandas as pd

    tables, per_set = summarize(records, collection)
    lines = []
    both = pd.DataFrame(
        {
            "clean AUC": tables["clean"]["mean ROC-AUC"],
            "clean rank": tables["clean"]["mean rank vs peers"],
            "clean peers' best": tables["clean"]["peers' best mean rank"],
            "contam. AUC": tables["contaminated"]["mean ROC-AUC"],
            "contam. rank": tables["contaminated"]["mean rank vs peers"],
            "contam. peers' best": tables["contaminated"]["peers' best mean rank"],
            "clean s": tables["clean"]["fit+score s"],
            "contam. s": tables["contaminated"]["fit+score s"],
        }
    ).sort_values("clean AUC", ascending=False)
    lines += [f"### {collection}", "", both.to_markdown(floatfmt=".4f"), ""]
    for protocol in PROTOCOLS:
        lines += [
            f"{protocol}, ROC-AUC per set:",
            "",
            per_set[protocol].T.to_markdown(floatfmt=".3f"),
            "",
        ]
    order, margin = margins(records, collection)
    lines += [
        (
            "margin (min of clean - IsolationForest, contaminated - 0.896, "
            "0.01 x (peers' best rank - rank)):"
        ),
        "",
    ]
    lines += [f"- {v}: {margin[v]:+.4f}" for v in order]
    return "\n".join(lines), order, margin


def _write_report(records, collection, path):
    """Write and print the report; a missing pandas/tabulate only skips it."""
    try:
        text = report(records, collection)[0]
    except Exception as exc:  # noqa: BLE001 - the records are on disk either way
        print(f"no report for {collection}: {type(exc).__name__}: {exc}", flush=True)
        return
    path.write_text(text)
    print(text, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA_DIR))
    parser.add_argument("--more", default=str(MORE_DATA_DIR), help="folder, or 'none'")
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--workers", type=int, default=14)
    parser.add_argument("--deadline", type=float, default=3600, help="seconds for everything")
    parser.add_argument("--out", default=os.environ.get("OUT", "/tmp/sweep_protocols"))
    parser.add_argument("--summarize", default=None, help="records.jsonl to report on")
    args = parser.parse_args(argv)
    if args.summarize:
        with open(args.summarize) as f:
            records = [json.loads(line) for line in f]
        # The PyOD peers of the nine sets come from detect.csv, as in the run.
        ran = {r["dataset"] for r in records if r["collection"] == "odds"}
        seeds = sorted({r["seed"] for r in records})
        records += [r for r in pyod_records(seeds) if r["dataset"] in ran]
        for collection in dict.fromkeys(r["collection"] for r in records):
            print(report(records, collection)[0])
        return
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    deadline = start + args.deadline
    with open(out / "records.jsonl", "w") as sink:
        jobs = make_jobs(args.kinds, "odds", args.data, args.datasets, args.seeds)
        print(f"nine sets: {len(jobs)} jobs", flush=True)
        records = run_phase(jobs, "nine", args.workers, deadline, sink)
        print(f"nine sets done in {time.time() - start:.0f} s", flush=True)
        ran = {r["dataset"] for r in records}
        records += [r for r in pyod_records(args.seeds) if r["dataset"] in ran]
        order, margin = margins(records)
        print("margins:", json.dumps({v: round(margin[v], 4) for v in order}), flush=True)
        _write_report(records, "odds", out / "report_odds.md")
        if args.more != "none" and time.time() < deadline - 30:
            chosen = [v for v in order if margin[v] >= 0] or order[:2]
            kinds = {"peers"}.union(*(variant_kinds(v) for v in chosen))
            if not any(kind.startswith("core") for kind in kinds):
                kinds.add("core")  # the default's row
            if kinds & {"core+short vae", "core+vae trims"}:
                kinds.discard("core")  # it fits the default too
            print(f"odds-more for {chosen}: kinds {sorted(kinds)}", flush=True)
            jobs = make_jobs(sorted(kinds), "odds-more", args.more, None, args.seeds)
            more = run_phase(jobs, "more", args.workers, deadline - 10, sink)
            if more:
                _write_report(more, "odds-more", out / "report_odds_more.md")
    print(f"total {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
