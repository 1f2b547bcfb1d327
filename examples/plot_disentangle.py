"""
Converting rows between groups
==============================

:class:`~skae.DisentangledAutoEncoder` splits a row into a content code, free of the
row's group, and a code per group. Rows of a synthetic task
(:class:`skae.datasets.GroupRenderer`: a 3-D content rendered differently in each of
four groups) are converted to group 0 and compared with the true rows of that group,
which the synthetic knows.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.neural_network import MLPClassifier

from skae import DisentangledAutoEncoder
from skae.datasets import GroupRenderer

task = GroupRenderer(n_groups=4, n_content=3, n_features=12, random_state=0)
X, y, content = task.sample(2000, random_state=1)
mean, std = X[:1400].mean(0), X[:1400].std(0)
X = (X - mean) / std
model = DisentangledAutoEncoder(device="cpu", random_state=0).fit(X[:1400], y[:1400])

# Is the group gone from the content code? A classifier trained on the codes of the
# training rows predicts the group of held-out rows (chance: 0.25).
Z = model.transform(X)
probe = MLPClassifier((64,), early_stopping=True, random_state=0).fit(Z[:1400], y[:1400])
print(f"group from content code: {probe.score(Z[1400:], y[1400:]):.2f} (chance 0.25)")

X_test, y_test = X[1400:], y[1400:]
converted = model.convert(X_test, y_target=0)
truth = (task.render(content[1400:], np.zeros(len(X_test), int)) - mean) / std

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True, sharey=True)
for g in range(4):
    axes[0].scatter(*X_test[y_test == g, :2].T, s=5, label=f"group {g}")
axes[0].set(title="held-out rows, by group", xlabel="feature 0", ylabel="feature 1")
axes[0].legend(markerscale=3)
axes[1].scatter(*truth[:, :2].T, s=5, color="0.7", label="true rows of group 0")
axes[1].scatter(*converted[:, :2].T, s=5, color="tab:blue", label="all rows converted to group 0")
axes[1].set(title="converted to group 0", xlabel="feature 0")
axes[1].legend(markerscale=3)
fig.tight_layout()
plt.show()

error = np.mean((converted - truth) ** 2) / truth.var()
unchanged = np.mean((X_test - truth) ** 2) / truth.var()
print(f"relative error to the true rows: converted {error:.3f}, unchanged {unchanged:.3f}")
