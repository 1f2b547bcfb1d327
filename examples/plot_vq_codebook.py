"""
A codebook of digits
====================

A :class:`~skae.VQTransformer` with one codebook of 32 codes turns every digit into
one integer. Decoding each code shows what the codebook learned; the histogram shows
how many training digits chose each code (a collapsed codebook would leave most
codes unused: ``perplexity_`` is the effective number of codes in use).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skae import VQTransformer

X = load_digits().data / 16
vq = VQTransformer(n_codes=32, n_components=8, device="cpu", random_state=0).fit(X)
print(f"perplexity: {vq.perplexity_[0]:.1f} of {vq.n_codes} codes")

codes = np.arange(vq.n_codes)[:, None]  # one code per row, one codebook
decoded = vq.inverse_transform(codes)

fig = plt.figure(figsize=(10, 5.5))
grid = fig.add_gridspec(5, 8, height_ratios=[1, 1, 1, 1, 2.2])
for code in range(vq.n_codes):
    ax = fig.add_subplot(grid[code // 8, code % 8])
    ax.imshow(decoded[code].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[], title=f"code {code}")
ax = fig.add_subplot(grid[4, :])
ax.bar(codes.ravel(), vq.code_usage_[0], color="tab:blue")
ax.set(xlabel="code", ylabel="training digits", xlim=(-0.6, vq.n_codes - 0.4))
fig.tight_layout()
plt.show()
