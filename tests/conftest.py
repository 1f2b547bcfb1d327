"""Settings shared by the whole test suite."""

import torch

# The suite's networks are tiny, so one intra-op thread trains them as fast as
# two; and torch threads that wait on a core held by another process (a second
# pytest-xdist worker, a joblib worker) slow training down 20-35x.
torch.set_num_threads(1)
