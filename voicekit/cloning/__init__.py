"""Turns a signed voice profile into a voice: a fitted conversion of a base engine's speech."""
