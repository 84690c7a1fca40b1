"""Fitting to observed figures: targets, priors, the posterior by ABC-SMC, its check, the fit report, SBC."""
