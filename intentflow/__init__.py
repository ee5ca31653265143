"""Intentflow: lead, candidate and employer-complaint discovery in public social posts."""
import os

# One process per core is the scaling model (more classify processes, not more threads). OpenMP
# fan-out inside a process (FAISS, scikit-learn's gradient boosting) next to the encoder's BLAS threads
# made training 25x slower on 2 cores (measured: 300 s vs 12 s for the same small training run).
os.environ.setdefault("OMP_NUM_THREADS", "1")
