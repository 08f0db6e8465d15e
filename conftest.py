"""Root pytest configuration: applies to tests/ and to the docstring examples of speechdl/.

Tests and examples use tiny models: one thread per process is faster and steadier than two on a shared
2-core machine (two OpenMP threads waiting on each other made tiny models 10-100x slower under load).
"""

import torch

torch.set_num_threads(1)
