"""Triton Python-backend models of the generated repository; each ``1/model.py`` re-exports one of these."""
