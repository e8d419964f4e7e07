"""The worker's web endpoint: ``/metrics`` (Prometheus exposition) and ``/healthz``."""
