"""Dynamical feasibility: Kozai–Lidov, tides, disk migration and stability limits."""
