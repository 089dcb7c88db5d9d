"""Watermark backends behind one protocol; the keyed watermark is the offline default."""
from detection.watermark.base import Verdict, Watermarker
from detection.watermark.keyed import KeyedWatermark, WatermarkKey

__all__ = ["KeyedWatermark", "Verdict", "WatermarkKey", "Watermarker"]
