"""Marks every output and finds marks: the keyed watermark, the release gate, provenance checks."""
