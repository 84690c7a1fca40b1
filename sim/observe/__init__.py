"""What is recorded and measured: the simulated register, its columns and the published estimator."""
