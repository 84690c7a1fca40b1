"""Fitting to observed figures: targets, the fit and the fit report."""
