#!/usr/bin/python3
"""The decode floor: OpenCV's imdecode + INTER_LINEAR resize + canvas on the same photo bytes, per stage.

What YOLOX's reference (preproc) does to a photo before the model, timed: cv2.imdecode(IMREAD_COLOR) of the bytes,
cv2.resize(INTER_LINEAR) to the letterboxed size (int() truncation), and the copy onto a 114-filled canvas. Run
with Debian's python3-opencv (/usr/bin/python3). cv2.setNumThreads(THREADS) first (1: one request, one thread, as
our decode runs; 0 would let OpenCV split the resize across the cores).

Usage: /usr/bin/python3 bench/opencv_decode_floor.py ROUNDS THREADS CANVAS PHOTO...
Prints one JSON object: {"opencv": version, "threads": n, "photos": {path: {"decode": p50, "resize": p50, "total": p50,
"samples": {"decode": [...], "resize": [...], "total": [...]}}}} (ms; the samples let a caller pool several runs).
"""
import json
import sys
import time

import cv2
import numpy as np


def main():
    rounds, threads, canvas = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    cv2.setNumThreads(threads)
    photos = {}
    for path in sys.argv[4:]:
        with open(path, 'rb') as handle:
            data = np.frombuffer(handle.read(), dtype=np.uint8)
        samples = {'decode': [], 'resize': [], 'total': []}
        for index in range(rounds + 3):
            started = time.perf_counter()
            img = cv2.imdecode(data, cv2.IMREAD_COLOR)
            decoded = time.perf_counter()
            r = min(canvas / img.shape[0], canvas / img.shape[1])
            resized = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR)
            padded = np.full((canvas, canvas, 3), 114, dtype=np.uint8)
            padded[: resized.shape[0], : resized.shape[1]] = resized
            done = time.perf_counter()
            if index >= 3:
                samples['decode'].append((decoded - started) * 1000)
                samples['resize'].append((done - decoded) * 1000)
                samples['total'].append((done - started) * 1000)
        photos[path] = {stage: float(np.median(values)) for stage, values in samples.items()}
        photos[path]['samples'] = samples
    print(json.dumps({'opencv': cv2.__version__, 'threads': threads, 'photos': photos}))


if __name__ == '__main__':
    main()
