"""Everything Meta-specific. Nothing outside this package imports a Meta-shaped type."""
