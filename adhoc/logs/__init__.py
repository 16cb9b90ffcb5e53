"""Engine logs: Spark driver and executor pod logs collected from Kubernetes into object storage."""
