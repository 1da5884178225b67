"""ser-hf: speech emotion recognition on the Hugging Face stack."""

__version__ = "0.1.0"
