"""What an operator sees of a running kefu: Prometheus metrics (:mod:`.metrics`), JSON logs
carrying the request and turn (:mod:`.logs`, :mod:`.context`) and OpenTelemetry spans
(:mod:`.tracing`). Every part may record here; this part imports only ``core``.
See docs/operations.md."""
