"""The yearly processes, one module per ODD submodel, in schedule order."""
