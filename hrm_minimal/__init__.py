"""hrm_minimal: a compact, readable PyTorch Hierarchical Reasoning Model (Wang et al. 2025)."""
__version__ = "0.1.0"
