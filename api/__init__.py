"""The HTTP service over voicekit.studio (FastAPI). Nothing here bypasses the studio."""
