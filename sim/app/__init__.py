"""The classroom app (``python run.py app``), one module per panel."""
