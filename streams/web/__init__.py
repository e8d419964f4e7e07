"""The worker's web endpoint: ``/metrics`` (Prometheus exposition), ``/healthz`` and ``/api/locate``."""
