"""qmrigenes: quantitative MRI maps against brain gene expression."""
__version__ = "0.1.0"
