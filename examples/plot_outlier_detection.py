"""
Outlier detection: scores, threshold, ROC and where the error is
================================================================

:class:`~skae.AEOutlierDetector` learns to rebuild normal rows; a row it rebuilds
badly is an outlier. A one-class task from the digits: the detector is trained on
ones only and shown held-out ones mixed with other digits, the anomalies
(labels are only used to draw the pictures). Its scores against IsolationForest's,
the ``contamination="auto"`` threshold, and the per-pixel error of the rows it
finds most anomalous.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import RocCurveDisplay, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skae import AEOutlierDetector

X, y = load_digits(return_X_y=True)
normal, anomalous = X[y == 1], X[y != 1]
X_train, X_normal_test = train_test_split(normal, test_size=0.4, random_state=0)
picked = np.random.RandomState(0).choice(len(anomalous), 30, replace=False)
X_test = np.vstack([X_normal_test, anomalous[picked]])
is_anomaly = np.r_[np.zeros(len(X_normal_test)), np.ones(30)]
y_test = np.r_[np.ones(len(X_normal_test), int), y[y != 1][picked]]

scaler = StandardScaler().fit(X_train)
detector = AEOutlierDetector(random_state=0).fit(scaler.transform(X_train))
forest = IsolationForest(random_state=0).fit(scaler.transform(X_train))

# Higher = more anomalous (scikit-learn's score_samples is the opposite).
scores = -detector.score_samples(scaler.transform(X_test))
forest_scores = -forest.score_samples(scaler.transform(X_test))
auc = {
    "AEOutlierDetector": roc_auc_score(is_anomaly, scores),
    "IsolationForest": roc_auc_score(is_anomaly, forest_scores),
}
print("ROC-AUC: " + ", ".join(f"{name} {value:.3f}" for name, value in auc.items()))
# Which ranks the anomalies better, judged on the three digits printed.
rounded = {name: round(value, 3) for name, value in auc.items()}
if len(set(rounded.values())) == 1:
    print("Both rank the anomalies equally well on this task.")
else:
    print(f"{max(rounded, key=rounded.get)} ranks the anomalies better on this task.")

# %%
# The scores are centred on the training rows' median score and divided by its
# spread, so typical rows score around zero (some below) and anomalies orders of
# magnitude higher: the histogram's axis is symmetric-logarithmic (linear around
# zero, logarithmic beyond), its bins evenly spaced on that axis.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
bins = np.sinh(np.linspace(np.arcsinh(scores.min()), np.arcsinh(scores.max()), 40))
left.hist(scores[is_anomaly == 0], bins, alpha=0.6, label="held-out ones")
left.hist(scores[is_anomaly == 1], bins, alpha=0.6, label="other digits (anomalies)")
left.axvline(detector.threshold_, color="k", ls="--", label='threshold ("auto")')
left.set(
    xscale="symlog",
    xlim=(bins[0], bins[-1]),
    xlabel="anomaly score",
    ylabel="test rows",
    title="scores",
)
left.legend()
RocCurveDisplay.from_predictions(is_anomaly, scores, name="AEOutlierDetector", ax=right)
RocCurveDisplay.from_predictions(is_anomaly, forest_scores, name="IsolationForest", ax=right)
right.plot([0, 1], [0, 1], color="0.7", lw=1)
right.set(title="ROC curves")
fig.tight_layout()
plt.show()

# %%
# Which of the two ranks the anomalies better depends on the task: the lines
# printed above say which on this one (the benchmarks compare them on the ten
# one-class digits tasks and nine ODDS data sets). The threshold of
# ``contamination="auto"`` is Tukey's fence on the training scores; set
# ``contamination`` when the rate of anomalies is known.
#
# Where the error is
# ------------------
# The per-pixel reconstruction error of the five test rows with the highest
# scores, next to the rows themselves: the pixels the detector could not rebuild.
top = np.argsort(scores)[::-1][:5]
errors = detector.reconstruction_error(scaler.transform(X_test[top]), per_feature=True)
fig, axes = plt.subplots(2, 5, figsize=(10, 4.4))
for k, row in enumerate(top):
    axes[0, k].imshow(X_test[row].reshape(8, 8), cmap="gray_r")
    axes[0, k].set_title(f"a {y_test[row]}")
    axes[1, k].imshow(errors[k].reshape(8, 8), cmap="magma")
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
axes[0, 0].set_ylabel("row")
axes[1, 0].set_ylabel("error per pixel")
fig.tight_layout()
plt.show()
