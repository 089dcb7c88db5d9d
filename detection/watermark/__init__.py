"""Watermark backends behind one protocol; the keyed watermark is the offline default."""
from detection.watermark.audioseal_backend import AudioSealWatermark
from detection.watermark.base import Verdict, Watermarker
from detection.watermark.keyed import KeyedWatermark
from detection.watermark.pattern import WatermarkKey

__all__ = ["AudioSealWatermark", "KeyedWatermark", "Verdict", "WatermarkKey", "Watermarker"]
