"""Tests of DisentangledAutoEncoder on data whose content and group are known."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier

from skae import AutoEncoderTransformer, DisentangledAutoEncoder, TrainingDivergedError
from skae._disentangle.estimator import ROW_MMD_WEIGHT
from skae.datasets import GroupRenderer

N_GROUPS = 8
# Short fits are deliberate here; the warning is tested with the base class.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FAST = dict(hidden_layer_sizes=(32, 32), batch_size=64, lr=3e-3, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def rows():
    # One group more than the training set: the last is the unseen one.
    truth = GroupRenderer(n_groups=N_GROUPS + 1)
    X, y, c = truth.sample(1200, groups=N_GROUPS, random_state=1)
    return truth, c, y, X


@pytest.fixture(scope="module")
def adversarial(rows):
    _, _, y, X = rows
    return DisentangledAutoEncoder(
        n_components=2, group_dim=4, method="adversarial", max_epochs=60, **FAST
    ).fit(X, y)


def group_accuracy(Z, y):
    clf = MLPClassifier((32,), max_iter=300, random_state=0)
    return cross_val_score(clf, Z.reshape(len(Z), -1), y, cv=3).mean()


def relative_error(X, truth):
    return np.mean((X - truth) ** 2) / truth.var()


def baselines(X, y, X_true, y_target):
    """Errors of 'unchanged' and 'target group mean' against the true rows."""
    group_means = np.stack([X[y == k].mean(0) for k in range(N_GROUPS)])
    return relative_error(X, X_true), relative_error(group_means[y_target], X_true)


def test_convert_lands_on_true_target_rows(rows, adversarial):
    truth, c, y, X = rows
    y_target = (y + 1) % N_GROUPS
    X_true = truth.render(c, y_target)
    error = relative_error(adversarial.convert(X, y_target), X_true)
    unchanged, group_mean = baselines(X, y, X_true, y_target)
    assert error < 0.35 * min(unchanged, group_mean), (error, unchanged, group_mean)


def test_bottleneck_trains_on_reconstruction_only(rows):
    # The weakest method here: with only the reconstruction loss its code
    # keeps part of the group, so conversion only clearly beats 'unchanged'.
    truth, c, y, X = rows
    model = DisentangledAutoEncoder(
        n_components=2, group_dim=4, method="bottleneck", max_epochs=60, **FAST
    ).fit(X, y)
    assert model.module_.adversary is None
    y_target = (y + 1) % N_GROUPS
    X_true = truth.render(c, y_target)
    unchanged, _ = baselines(X, y, X_true, y_target)
    assert relative_error(model.convert(X, y_target), X_true) < 0.7 * unchanged


def test_content_code_hides_the_group(rows, adversarial):
    _, _, y, X = rows
    assert group_accuracy(adversarial.transform(X), y) < 1 / N_GROUPS + 0.1


def test_defaults_hide_the_group_in_a_code_wider_than_the_content():
    # The user does not know the content's width: at the defaults
    # (method="mmd", n_components=8 against a 3-D content) a probe trained on
    # the codes of training rows predicts the group of held-out rows little
    # better than chance, and conversions land near the true rows.
    n_groups = 4
    truth = GroupRenderer(n_groups=n_groups, n_content=3, n_features=12, random_state=0)
    X, y, c = truth.sample(2000, random_state=1)
    mean, std = X[:1400].mean(0), X[:1400].std(0)
    X = (X - mean) / std
    model = DisentangledAutoEncoder(device="cpu", random_state=0).fit(X[:1400], y[:1400])
    Z = model.transform(X)
    assert model.method == "mmd" and Z.shape == (2000, 8)
    probe = MLPClassifier((64,), max_iter=500, random_state=0).fit(Z[:1400], y[:1400])
    assert probe.score(Z[1400:], y[1400:]) <= 1 / n_groups + 0.15
    y_target = (y[1400:] + 1) % n_groups
    X_true = (truth.render(c[1400:], y_target) - mean) / std
    error = relative_error(model.convert(X[1400:], y_target), X_true)
    assert error < 0.25 * relative_error(X[1400:], X_true), error


def test_auto_sizes_follow_the_kind_of_input(sequences):
    # "auto" sizes rows as rows and sequences as speech-like frames; a size
    # that is set wins, and a later fit on the other kind resizes the network.
    _, _, y, X, _ = sequences
    X, y = X[:12], y[:12]  # one batch of windows per epoch: 50 short epochs
    model = DisentangledAutoEncoder(device="cpu", random_state=0)
    model.fit(X, y)
    assert model.transform(X).shape == (*X.shape[:2], 3)
    assert (model.net_.batch_size, model.net_.max_epochs) == (32, 50)
    assert model.n_iter_ <= 50 and model.module_.to_code.in_channels == 256
    # The sequences' weight of the discrepancy term stays the one tuned on speech.
    assert model.module_.mmd_weight == 10.0
    rows = X[:, 0]
    model.set_params(max_epochs=1).fit(rows, y)
    assert model.transform(rows).shape == (len(rows), 8) and model.net_.batch_size == 512
    assert model.module_.mmd_weight == ROW_MMD_WEIGHT
    assert [
        layer.out_features
        for layer in model.module_.encoder.modules()
        if isinstance(layer, torch.nn.Linear)
    ] == [128, 64, 8]
    assert model.get_params()["n_components"] == "auto"
    model.set_params(n_components=5, batch_size=7, hidden_layer_sizes=(16,)).fit(X, y)
    assert model.transform(X).shape[-1] == 5 and model.net_.batch_size == 7
    assert model.module_.to_code.in_channels == 16
    with pytest.raises(ValueError, match="n_components"):
        DisentangledAutoEncoder(n_components="wide").fit(rows, y)


def test_adversary_alone_leaves_the_group_in_a_wide_code(rows):
    # Why "mmd" is the default: with a code wider than the content the
    # encoder fools the adversary of the moment, and a fresh probe reads the
    # group again. The discrepancy term has no classifier to fool.
    _, _, y, X = rows
    wide = dict(n_components=16, group_dim=4, max_epochs=60, **FAST)
    adversarial = DisentangledAutoEncoder(method="adversarial", **wide).fit(X, y)
    mmd = DisentangledAutoEncoder(method="mmd", **wide).fit(X, y)
    assert mmd.module_.adversary is None and mmd.module_.mmd_weight == ROW_MMD_WEIGHT
    leaked = group_accuracy(adversarial.transform(X), y)
    hidden = group_accuracy(mmd.transform(X), y)
    assert hidden < 1 / N_GROUPS + 0.15 < leaked, (hidden, leaked)


def test_plain_autoencoder_leaks_the_group(rows):
    # Why the disentangling methods exist: a reconstruction-only code of the
    # same width carries the group.
    _, _, y, X = rows
    ae = AutoEncoderTransformer(n_components=2, max_epochs=60, **FAST).fit(X)
    assert group_accuracy(ae.transform(X), y) > 0.9


def test_embed_group_converts_to_an_unseen_group(rows, adversarial):
    truth, c, y, X = rows
    rng = np.random.RandomState(2)
    new = N_GROUPS  # the Truth has one group more than the training set
    examples = truth.render(truth.content((50,), rng), np.full(50, new))
    code = adversarial.embed_group(examples)
    assert code.shape == (4,)
    X_true = truth.render(c, np.full(len(c), new))
    error = relative_error(adversarial.convert(X, group_code=code), X_true)
    near = min(relative_error(adversarial.convert(X, k), X_true) for k in range(N_GROUPS))
    unchanged = relative_error(X, X_true)
    assert error < 0.75 * near and error < 0.2 * unchanged, (error, near, unchanged)


def test_labels_codes_and_errors(rows, adversarial):
    _, _, y, X = rows
    labels = np.array([f"g{k}" for k in range(N_GROUPS)])
    names = labels[y]
    model = DisentangledAutoEncoder(n_components=2, group_dim=4, max_epochs=2, **FAST).fit(X, names)
    np.testing.assert_array_equal(model.classes_, labels)
    assert model.group_embeddings_.shape == (N_GROUPS, 4)
    Z = model.transform(X[:5])
    one = model.inverse_transform(Z, "g1")
    np.testing.assert_allclose(one, model.inverse_transform(Z, ["g1"] * 5))
    by_code = model.inverse_transform(Z, group_code=model.group_embeddings_[1])
    np.testing.assert_allclose(one, by_code)
    assert model.score(X, names) <= 0
    with pytest.raises(ValueError, match="not seen in fit"):
        model.convert(X[:5], "dan")
    with pytest.raises(ValueError, match="exactly one"):
        model.inverse_transform(Z)
    with pytest.raises(ValueError, match="requires y"):
        DisentangledAutoEncoder().fit(X, None)
    with pytest.raises(ValueError, match="sequence input"):
        DisentangledAutoEncoder(method="instance_norm").fit(X, y)
    assert model.sample(4, y="g2", random_state=0).shape == (4, X.shape[1])
    clone = pickle.loads(pickle.dumps(adversarial))
    np.testing.assert_array_equal(clone.convert(X[:5], 0), adversarial.convert(X[:5], 0))


def test_divergence_is_detected(rows):
    _, _, y, X = rows
    model = DisentangledAutoEncoder(
        n_components=2, optimizer="sgd", max_epochs=3, **{**FAST, "lr": 1e6}
    )
    with pytest.raises(TrainingDivergedError):
        model.fit(X * 1e3, y)


# -- sequences ---------------------------------------------------------------
@pytest.fixture(scope="module")
def sequences():
    """Smooth content trajectories rendered frame by frame, one group each."""
    from scipy.ndimage import gaussian_filter1d

    n_groups = 4
    truth = GroupRenderer(n_groups=n_groups + 1)
    rng = np.random.RandomState(1)
    c = gaussian_filter1d(truth.content((80, 48), rng), 1, axis=1)
    y = rng.randint(n_groups, size=len(c))
    return truth, c, y, truth.render(c, y), n_groups


def test_instance_norm_converts_sequences(sequences):
    truth, c, y, X, n_groups = sequences
    model = DisentangledAutoEncoder(
        n_components=2,
        group_dim=4,
        method="instance_norm",
        segment_length=32,
        max_epochs=40,
        **{**FAST, "batch_size": 32},
    ).fit(X, y)
    y_target = (y + 1) % n_groups
    X_true = truth.render(c, y_target)
    converted = model.convert(X, y_target)
    assert converted.shape == X.shape
    group_means = np.stack([X[y == k].mean((0, 1)) for k in range(n_groups)])
    unchanged = relative_error(X, X_true)
    group_mean = relative_error(group_means[y_target][:, None], X_true)
    error = relative_error(converted, X_true)
    assert error < 0.6 * min(unchanged, group_mean), (error, unchanged, group_mean)
    assert model.transform(X).shape == (len(X), X.shape[1], 2)

    # Variable-length sequences: a list in, a list out, frame for frame.
    lengths = [20 + i % 13 for i in range(len(X))]
    X_list = [x[:n] for x, n in zip(X, lengths)]
    out = model.convert(X_list, y_target)
    assert [len(o) for o in out] == lengths
    np.testing.assert_allclose(out[0], model.convert(X_list[:1], y_target[:1])[0], rtol=1e-5)
    assert model.reconstruction_error(X_list, y).shape == (len(X),)
    code = model.embed_group([x for x in X[y == 0]][:3])
    assert code.shape == (4,)
    with pytest.raises(ValueError, match="fitted on sequences"):
        model.transform(X[0])


@pytest.mark.parametrize("method", ["mmd", "adversarial", "bottleneck"])
def test_sequence_methods_fit_variable_length_lists(sequences, method):
    _, _, y, X, _ = sequences
    X_list = [x[: 10 + i % 40] for i, x in enumerate(X)]  # some shorter than a window
    model = DisentangledAutoEncoder(
        n_components=2, group_dim=4, method=method, segment_length=32, max_epochs=2, **FAST
    ).fit(X_list, y)
    assert (model.module_.adversary is None) == (method != "adversarial")
    assert (model.module_.mmd_weight > 0) == (method == "mmd")
    assert model.module_.instance_norm == (method == "mmd")
    Z = model.transform(X_list)
    assert [z.shape for z in Z] == [(len(x), 2) for x in X_list]
    model.partial_fit(X_list, y)
    with pytest.raises(ValueError, match="sequences, not rows"):
        model.partial_fit(X[:, 0], y)


# -- group encoder (one-shot) -------------------------------------------------
def sequence_drawer(truth, rng):
    """``draw(n, groups)``: smooth content sequences of 48 frames and their renderings."""
    from scipy.ndimage import gaussian_filter1d

    def draw(n, groups):
        c = gaussian_filter1d(truth.content((n, 48), rng), 1, axis=1)
        return c, truth.render(c, groups)

    return draw


def group_encoder_model(max_epochs):
    return DisentangledAutoEncoder(
        n_components=2,
        group_dim=4,
        method="instance_norm",
        group_encoder=True,
        segment_length=32,
        max_epochs=max_epochs,
        **{**FAST, "batch_size": 32, "lr": 3e-3},
    )


def test_same_group_partners_pair_within_groups():
    import torch

    from skae._disentangle.group_encoder import same_group_partners

    torch.manual_seed(0)
    cond = torch.tensor([3, 1, 3, 2, 1, 1, 0, 3, 1])
    partners = same_group_partners(cond)
    assert torch.equal(cond[partners], cond)
    alone = torch.bincount(cond)[cond] == 1
    assert torch.equal(partners == torch.arange(len(cond)), alone)  # itself only when alone
    assert sorted(partners.tolist()) == list(range(len(cond)))  # a permutation


def test_group_encoder_converts_to_groups_never_seen(tmp_path):
    import torch

    import skae

    truth = GroupRenderer(n_groups=10)
    rng = np.random.RandomState(1)

    draw = sequence_drawer(truth, rng)

    y = rng.randint(8, size=160)  # groups 8 and 9 are never seen in training
    _, X = draw(160, y)
    model = group_encoder_model(max_epochs=30).fit(X, y)
    c, X_source = draw(20, rng.randint(8, size=20))
    for new in (8, 9):
        _, examples = draw(4, np.full(4, new))
        code = model.embed_group(examples)
        # A forward pass: no optimisation to tune.
        np.testing.assert_array_equal(code, model.embed_group(examples, n_steps=1))
        X_true = truth.render(c, np.full(20, new))
        error = relative_error(model.convert(X_source, group_code=code), X_true)
        unchanged = relative_error(X_source, X_true)
        example_mean = relative_error(np.broadcast_to(examples.mean((0, 1)), X_true.shape), X_true)
        assert error < 0.3 * min(unchanged, example_mean), (error, unchanged, example_mean)
    # A trained group's code is its windows' mean code: embedding its rows lands there.
    own = model.embed_group(X[y == 0])
    distances = np.linalg.norm(model.group_embeddings_ - own, axis=1)
    assert distances.argmin() == 0
    # partial_fit adds its windows to the groups' means.
    before = model.module_.group_code_counts.clone()
    model.partial_fit(X[y == 0][:5], y[y == 0][:5])
    counts = model.module_.group_code_counts
    assert counts[0] > before[0] and torch.equal(counts[1:], before[1:])
    np.testing.assert_allclose(
        model.group_embeddings_[0],
        (model.module_.group_code_sums[0] / counts[0]).numpy(),
        rtol=1e-6,
    )
    code = model.embed_group(examples)
    # Saved and loaded safely, group encoder included.
    skae.save(model, tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    np.testing.assert_allclose(loaded.embed_group(examples), code, rtol=1e-6)
    with pytest.raises(ValueError, match="group_encoder=True .* needs sequence input"):
        DisentangledAutoEncoder(group_encoder=True).fit(X[:, 0], y)


def test_convert_calibrates_to_the_target_examples():
    truth = GroupRenderer(n_groups=9)
    rng = np.random.RandomState(2)

    draw = sequence_drawer(truth, rng)

    y = rng.randint(8, size=120)
    _, X = draw(120, y)
    model = group_encoder_model(max_epochs=15).fit(X, y)
    # A new group louder and offset beyond every training group: its code
    # alone cannot reach it, the examples' statistics can.
    c, X_source = draw(20, rng.randint(8, size=20))
    _, examples = draw(4, np.full(4, 8))
    examples, X_true = 1.5 * examples + 1.0, 1.5 * truth.render(c, np.full(20, 8)) + 1.0
    plain = relative_error(model.convert(X_source, group_code=model.embed_group(examples)), X_true)
    calibrated = relative_error(model.convert(X_source, target_examples=examples), X_true)
    assert calibrated < 0.1 * plain, (calibrated, plain)
    # It is embed_group's code, then the affine map of the rendered examples'
    # per-feature statistics to theirs.
    code = model.embed_group(examples)
    n_features = X.shape[-1]
    rendered = model.convert(examples, group_code=code).reshape(-1, n_features)
    frames = examples.reshape(-1, n_features)
    scale = frames.std(0) / rendered.std(0)
    assert 1.2 < np.median(scale) < 10  # the louder group needs a real scale here
    expected = (model.convert(X_source, group_code=code) - rendered.mean(0)) * scale + frames.mean(
        0
    )
    out = model.convert(X_source, target_examples=examples)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        model.convert(X_source, group_code=code[None], target_examples=examples), out, atol=1e-5
    )
    # The examples converted to themselves take on their statistics exactly.
    own_stats = model.convert(examples, target_examples=examples).reshape(-1, n_features)
    np.testing.assert_allclose(own_stats.mean(0), frames.mean(0), atol=1e-4)
    np.testing.assert_allclose(own_stats.std(0), frames.std(0), rtol=1e-4, atol=1e-4)
    # A trained group by label, calibrated on its own rows; lists stay lists.
    own = model.convert(list(X[:3]), 0, target_examples=X[y == 0])
    assert isinstance(own, list) and own[0].shape == X[0].shape
    np.testing.assert_allclose(
        np.stack(own), model.convert(X[:3], [0], target_examples=X[y == 0]), atol=1e-5
    )
    with pytest.raises(ValueError, match="one target label or one group_code"):
        model.convert(X_source, np.zeros(20, dtype=int), target_examples=examples)
    # A feature rendered (nearly) flat is not blown up: the scale stays within bounds.
    from skae._disentangle.spread import moments, spread_map

    rendered, real = np.array([[1.0], [1.0 + 1e-5]]), np.array([[0.0], [1.0]])
    shift, scale = spread_map(*moments(rendered), *moments(real))
    assert scale[0] == 10.0 and np.isfinite(shift).all()
    # Refining the encoder's code lowers the loss it minimises on the examples.
    refined = model.embed_group(examples, refine=True, n_steps=50, lr=0.01)
    assert not np.array_equal(code, refined)

    def loss(g):
        return np.mean((model.convert(examples, group_code=g) - examples) ** 2)

    assert loss(refined) < loss(code)
    with pytest.raises(TypeError, match="refine must be True or False"):
        model.embed_group(examples, refine="yes")
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        model.embed_group(examples, refine=True, n_steps=0)


def test_variance_compensation_restores_the_target_groups_spread(rows, adversarial, sequences):
    _, _, y, X = rows
    model = adversarial
    plain = model.convert(X[:50], 3, variance_compensation=0.0)
    np.testing.assert_array_equal(plain, model.inverse_transform(model.transform(X[:50]), 3))
    # "auto" is half way for a trained group, and nothing for a group code.
    np.testing.assert_array_equal(
        model.convert(X[:50], 3), model.convert(X[:50], 3, variance_compensation=0.5)
    )
    assert not np.allclose(model.convert(X[:50], 3), plain)
    code = model.group_embeddings_[3]
    np.testing.assert_array_equal(model.convert(X[:50], group_code=code), plain)

    def plain_of(rows):
        return model.convert(rows, 3, variance_compensation=0.0)

    # A group's own training rows, rendered in it with full compensation,
    # take on its training mean and spread (where the ratio is not clipped).
    own, rendered = X[y == 3], plain_of(X[y == 3])
    full = model.convert(own, 3, variance_compensation=1.0)
    np.testing.assert_allclose(full.mean(0), own.mean(0), atol=1e-4)
    ratio = own.std(0) / rendered.std(0)
    inside = (ratio > 0.1) & (ratio < 10)
    assert inside.all() and not np.allclose(ratio, 1, atol=0.02)  # a real correction
    np.testing.assert_allclose(full.std(0), own.std(0), rtol=1e-3)
    # Half way: the geometric mean of the two spreads.
    half = model.convert(own, 3, variance_compensation=0.5)
    np.testing.assert_allclose(half.std(0), np.sqrt(own.std(0) * rendered.std(0)), rtol=1e-3)
    # One target per row: each row is mapped by its own target group's moments.
    targets = np.arange(50) % N_GROUPS
    per_row = model.convert(X[:50], targets, variance_compensation=0.7)
    np.testing.assert_allclose(
        per_row[targets == 3],
        model.convert(X[:50][targets == 3], 3, variance_compensation=0.7),
        rtol=1e-5,
        atol=1e-5,
    )
    for bad in (1.5, -0.1, True, "half"):
        with pytest.raises(ValueError, match=r"must be 'auto' or a number in \[0, 1\]"):
            model.convert(X[:5], 3, variance_compensation=bad)
    with pytest.raises(ValueError, match="needs y_target"):
        model.convert(X[:5], group_code=model.group_embeddings_[0], variance_compensation=0.5)
    with pytest.raises(ValueError, match="needs y_target"):
        model.convert(X[:5], 3, target_examples=own, variance_compensation=0.5)

    # Sequences: a list in, a list out; partial_fit keeps the moments of
    # groups absent from the call.
    _, _, ys, S, n_groups = sequences
    seq = DisentangledAutoEncoder(n_components=2, group_dim=4, segment_length=16, **FAST)
    seq.partial_fit(S, ys)
    before = seq._group_moments.copy()
    seq.partial_fit(S[ys == 0], ys[ys == 0])
    np.testing.assert_array_equal(seq._group_moments[1:], before[1:])
    assert not np.array_equal(seq._group_moments[0], before[0])
    out = seq.convert(list(S[:3, :20]), 1, variance_compensation=0.5)
    assert (
        isinstance(out, list) and out[0].shape == (20, S.shape[-1]) and out[0].dtype == np.float32
    )
    # A model without the moments (written by an older skae) converts plainly
    # by default and says to refit when compensation is asked for.
    plain_seq = seq.convert(S[:2], 1, variance_compensation=0.0)
    del seq._group_moments
    np.testing.assert_array_equal(seq.convert(S[:2], 1), plain_seq)
    with pytest.raises(ValueError, match="refit"):
        seq.convert(S[:2], 1, variance_compensation=0.5)


def test_vq_bottleneck_gives_discrete_content_units(sequences, tmp_path):
    _, _, y, X, _ = sequences
    model = DisentangledAutoEncoder(
        n_components=2,
        group_dim=4,
        method="instance_norm",
        n_codes=8,
        segment_length=32,
        max_epochs=15,
        **{**FAST, "batch_size": 32},
    ).fit(X, y)
    assert model.history_[-1, "train_loss"] < 0.5 * model.history_[0, "train_loss"]
    codes = model.content_codes(X)
    assert codes.shape == X.shape[:2] and codes.dtype == np.int64
    assert len(np.unique(codes)) >= 4  # the codebook is used, not collapsed
    # The content code *is* a codebook vector: transform and content_codes agree.
    np.testing.assert_array_equal(model.transform(X), model.content_codebook_[codes])
    lists = model.content_codes([X[0][:20], X[1]])
    assert [c.shape for c in lists] == [(20,), (48,)]
    np.testing.assert_array_equal(lists[1], codes[1])
    import skae

    skae.save(model, tmp_path / "vq.skae")
    loaded = skae.load(tmp_path / "vq.skae")
    np.testing.assert_array_equal(loaded.content_codes(X), codes)
    np.testing.assert_array_equal(loaded.content_codebook_, model.content_codebook_)
    plain = DisentangledAutoEncoder(method="instance_norm", segment_length=32, max_epochs=1, **FAST)
    plain.fit(X, y)
    assert plain.content_codebook_ is None
    with pytest.raises(ValueError, match="n_codes"):
        plain.content_codes(X)


def test_time_jitter_swaps_codes_with_neighbours_only():
    import torch

    from skae._disentangle.modules import time_jitter

    torch.manual_seed(0)
    frames = torch.arange(400.0).reshape(1, 400, 1).repeat(2, 1, 3).requires_grad_()
    assert torch.equal(time_jitter(frames, 0.0), frames)
    jittered = time_jitter(frames, 0.5)
    shift = (jittered - frames)[..., 0].detach()
    assert set(shift.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert torch.equal(jittered[..., 0], jittered[..., 2])  # a frame's whole code moves
    assert 0.4 < (shift != 0).float().mean() < 0.6
    everywhere = (time_jitter(frames, 1.0) - frames)[:, 1:-1, 0]
    assert (everywhere != 0).all()  # inner frames all take a neighbour's code
    time_jitter(frames, 0.5).sum().backward()  # the encoder still gets a gradient
    assert frames.grad.sum() == frames.numel()


def test_code_jitter_regularises_training_only(sequences):
    _, _, y, X, _ = sequences
    params = dict(
        n_components=2,
        group_dim=4,
        method="instance_norm",
        n_codes=8,
        segment_length=32,
        max_epochs=3,
        **{**FAST, "batch_size": 32},
    )
    plain = DisentangledAutoEncoder(**params).fit(X, y)
    jittered = DisentangledAutoEncoder(code_jitter=0.5, **params).fit(X, y)
    assert jittered.module_.code_jitter == 0.5 and plain.module_.code_jitter == 0.0
    # Training differs, inference does not jitter: codes repeat exactly.
    assert not np.array_equal(plain.transform(X), jittered.transform(X))
    np.testing.assert_array_equal(jittered.content_codes(X), jittered.content_codes(X))
    np.testing.assert_array_equal(jittered.transform(X), jittered.transform(X))
    with pytest.raises(ValueError, match="code_jitter"):
        DisentangledAutoEncoder(code_jitter=1.5).fit(X, y)


def test_add_group_codes_makes_each_seen_groups_code_its_mean():
    from skae._disentangle.modules import DisentangledConv

    module = DisentangledConv(3, 2, 4, 2, (8,), group_encoder=True)
    untouched = module.group_embedding.weight[3].clone()
    codes = torch.arange(10.0).reshape(5, 2)
    module.add_group_codes(codes[:3], torch.tensor([0, 0, 1]))
    module.add_group_codes(codes[3:], torch.tensor([0, 2]))  # a later call adds to the sums
    table = module.group_embedding.weight
    torch.testing.assert_close(table[0], (codes[0] + codes[1] + codes[3]) / 3)
    torch.testing.assert_close(table[1], codes[2])
    torch.testing.assert_close(table[2], codes[4])
    torch.testing.assert_close(table[3], untouched)  # never seen: its initial code
    assert table.grad_fn is None and table.requires_grad  # no graph: still a trainable leaf
