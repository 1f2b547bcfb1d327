"""
Tuning an autoencoder inside a Pipeline
=======================================

An :class:`~skae.AutoEncoderTransformer` is a scikit-learn transformer, so it goes
into a ``Pipeline`` and ``GridSearchCV`` tunes it like any other step. Here the
code width is chosen by how well a logistic regression classifies digits from the
code; then the training curves of the chosen autoencoder, read from ``history_``.
Each fit stops early, once the loss on its held-out rows has stopped improving
(``max_epochs`` is only the cap).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoderTransformer

X, y = load_digits(return_X_y=True)
pipe = Pipeline(
    [
        ("scale", MinMaxScaler()),
        (
            "ae",
            AutoEncoderTransformer(
                max_epochs=300, early_stopping=True, device="cpu", random_state=0
            ),
        ),
        ("clf", LogisticRegression(max_iter=2000)),
    ]
)
search = GridSearchCV(pipe, {"ae__n_components": [2, 4, 8, 16]}, cv=3).fit(X, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

widths = search.cv_results_["param_ae__n_components"].data.astype(int)
mean, std = search.cv_results_["mean_test_score"], search.cv_results_["std_test_score"]

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.errorbar(widths, mean, yerr=std, marker="o", capsize=3)
left.set(
    xscale="log",
    xticks=widths,
    xticklabels=widths,
    xlabel="n_components",
    ylabel="cross-validated accuracy",
    title="accuracy of a classifier on the code",
)
left.minorticks_off()  # the widths label the axis, not 3x10^0 and 6x10^0

# The refitted pipeline's autoencoder kept its per-epoch history: the training
# loss, and with ``early_stopping=True`` the loss on the held-out rows, whose
# best epoch's weights were restored.
ae = search.best_estimator_.named_steps["ae"]
print(f"the refitted autoencoder stopped after {ae.n_iter_} of {ae.max_epochs} epochs")
history = ae.history_
epochs = np.arange(1, len(history) + 1)
right.plot(epochs, history[:, "train_loss"], label="training rows")
right.plot(epochs, history[:, "valid_loss"], label="held-out rows")
right.set(xlabel="epoch", ylabel="mean squared error", yscale="log", title="training curves")
right.legend()
fig.tight_layout()
plt.show()
