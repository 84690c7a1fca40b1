"""Many runs: sweep files, executors, the run ledger, comparisons and sensitivity analysis."""
