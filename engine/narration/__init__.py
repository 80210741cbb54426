"""Narration stage: voice catalog, text preparation, timing, Coqui and embedded (Piper) voices."""
