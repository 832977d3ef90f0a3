"""An independent log-mel reference for client/media/log_mel.h, in float64 numpy.

Usage: log_mel_reference.py SIGNAL.f32 OUT.f64
SIGNAL.f32 holds raw little-endian float32 samples at 16 kHz; OUT.f64 receives the
[frames, 80] log-mel energies as raw little-endian float64, row-major. Written from
the definition (25 ms periodic Hann windows every 10 ms, a 512-point FFT, 80 HTK mel
triangles from 0 to 8 kHz, natural log floored at 1e-10), not from the C++ code.
"""
import sys

import numpy as np

RATE, WINDOW, HOP, FFT, BANDS, LOW, HIGH, FLOOR = 16000, 400, 160, 512, 80, 0.0, 8000.0, 1e-10


def mel(hz):
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def filterbank():
    edges = hz(np.linspace(mel(LOW), mel(HIGH), BANDS + 2))
    freqs = np.arange(FFT // 2 + 1) * RATE / FFT
    bank = np.zeros((BANDS, freqs.size))
    for m in range(BANDS):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        up = (freqs - left) / (centre - left)
        down = (right - freqs) / (right - centre)
        bank[m] = np.maximum(0.0, np.minimum(up, down))
    return bank


def log_mel(signal):
    n = signal.size
    frames = 1 if n <= WINDOW else 1 + (n - WINDOW) // HOP
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW) / WINDOW)
    padded = np.zeros((frames - 1) * HOP + WINDOW)
    padded[: min(n, padded.size)] = signal[: padded.size]
    out = np.empty((frames, BANDS))
    bank = filterbank()
    for t in range(frames):
        frame = padded[t * HOP : t * HOP + WINDOW] * window
        power = np.abs(np.fft.rfft(frame, n=FFT)) ** 2
        out[t] = np.log(np.maximum(bank @ power, FLOOR))
    return out


if __name__ == "__main__":
    samples = np.fromfile(sys.argv[1], dtype="<f4").astype(np.float64)
    log_mel(samples).astype("<f8").tofile(sys.argv[2])
