"""Figures from computed results; nothing here recomputes science."""
