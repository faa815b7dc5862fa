"""pyruntime against its peers: ``python -m benchmarks`` (see benchmarks/run.py)."""
