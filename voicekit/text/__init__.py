"""Text preparation: normalisation and chunking for long-form speech."""
