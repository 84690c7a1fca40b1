"""Entities and initialisation: firms, cluster organisations, the network, geography and the synthetic population."""
