#!/usr/bin/python3
"""Each family's reference pipeline, written from the official sources, run on every photo in testdata/images.

YOLOX: preproc, demo_postprocess and multiclass_nms from Megvii-BaseDetection/YOLOX (yolox/data/data_augment.py,
yolox/utils/demo_utils.py, demo/ONNXRuntime/onnx_inference.py at 6ddff482), with OpenCV DNN running the ONNX file.
SSD: cv2.imread, BGR->RGB and a cv2.resize INTER_LINEAR stretch to the input size; the tensors are written for the
TFLite interpreter (bench/reference/reference-check.ts runs them). Needs Debian's python3-opencv (run with /usr/bin/python3).

Usage: /usr/bin/python3 bench/reference/reference_pipelines.py OUT_DIR
Writes OUT_DIR/yolox.json and OUT_DIR/ssd/<photo>.rgb (uint8 HWC RGB), OUT_DIR/ssd.json.
"""
import hashlib
import json
import os
import sys

import cv2
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
IMAGES = os.path.join(ROOT, 'testdata', 'images')
YOLOX_MODEL = os.path.join(ROOT, 'testdata', 'models', 'yolox_nano.onnx')
YOLOX_INPUT = (416, 416)  # (height, width), as onnx_inference.py's --input_shape
YOLOX_SCORE = 0.3  # onnx_inference.py --score_thr default, applied by vis()
YOLOX_NMS_SCORE = 0.1  # multiclass_nms(score_thr=0.1) in onnx_inference.py
YOLOX_NMS_IOU = 0.45
SSD_INPUT = (300, 300)


def preproc(img, input_size, swap=(2, 0, 1)):
    """yolox/data/data_augment.py preproc: top-left letterbox, pad 114, int() truncation of the resized size."""
    padded_img = np.ones((input_size[0], input_size[1], 3), dtype=np.uint8) * 114
    r = min(input_size[0] / img.shape[0], input_size[1] / img.shape[1])
    resized_img = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    padded_img[: int(img.shape[0] * r), : int(img.shape[1] * r)] = resized_img
    canvas = padded_img
    padded_img = padded_img.transpose(swap)
    padded_img = np.ascontiguousarray(padded_img, dtype=np.float32)
    return padded_img, r, canvas


def demo_postprocess(outputs, img_size):
    """yolox/utils/demo_utils.py demo_postprocess (p6=False)."""
    grids = []
    expanded_strides = []
    strides = [8, 16, 32]
    hsizes = [img_size[0] // stride for stride in strides]
    wsizes = [img_size[1] // stride for stride in strides]
    for hsize, wsize, stride in zip(hsizes, wsizes, strides):
        xv, yv = np.meshgrid(np.arange(wsize), np.arange(hsize))
        grid = np.stack((xv, yv), 2).reshape(1, -1, 2)
        grids.append(grid)
        shape = grid.shape[:2]
        expanded_strides.append(np.full((*shape, 1), stride))
    grids = np.concatenate(grids, 1)
    expanded_strides = np.concatenate(expanded_strides, 1)
    outputs[..., :2] = (outputs[..., :2] + grids) * expanded_strides
    outputs[..., 2:4] = np.exp(outputs[..., 2:4]) * expanded_strides
    return outputs


def nms(boxes, scores, nms_thr):
    """yolox/utils/demo_utils.py nms: areas and overlaps with the +1 pixel convention."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        inds = np.where(ovr <= nms_thr)[0]
        order = order[inds + 1]
    return keep


def multiclass_nms_class_agnostic(boxes, scores, nms_thr, score_thr):
    """yolox/utils/demo_utils.py multiclass_nms_class_agnostic (the demo's default, class_agnostic=True)."""
    cls_inds = scores.argmax(1)
    cls_scores = scores[np.arange(len(cls_inds)), cls_inds]
    valid_score_mask = cls_scores > score_thr
    if valid_score_mask.sum() == 0:
        return None
    valid_scores = cls_scores[valid_score_mask]
    valid_boxes = boxes[valid_score_mask]
    valid_cls_inds = cls_inds[valid_score_mask]
    keep = nms(valid_boxes, valid_scores, nms_thr)
    return np.concatenate([valid_boxes[keep], valid_scores[keep, None], valid_cls_inds[keep, None]], 1)


def photos():
    return sorted(name for name in os.listdir(IMAGES) if name.lower().endswith(('.jpg', '.jpeg', '.png', '.bmp', '.webp')))


def run_yolox():
    net = cv2.dnn.readNetFromONNX(YOLOX_MODEL)
    results = {}
    for name in photos():
        origin_img = cv2.imread(os.path.join(IMAGES, name))
        img, ratio, canvas = preproc(origin_img, YOLOX_INPUT)
        net.setInput(img[None, :, :, :])
        output = net.forward()
        predictions = demo_postprocess(output, YOLOX_INPUT)[0]
        boxes = predictions[:, :4]
        scores = predictions[:, 4:5] * predictions[:, 5:]
        boxes_xyxy = np.ones_like(boxes)
        boxes_xyxy[:, 0] = boxes[:, 0] - boxes[:, 2] / 2.0
        boxes_xyxy[:, 1] = boxes[:, 1] - boxes[:, 3] / 2.0
        boxes_xyxy[:, 2] = boxes[:, 0] + boxes[:, 2] / 2.0
        boxes_xyxy[:, 3] = boxes[:, 1] + boxes[:, 3] / 2.0
        boxes_xyxy /= ratio
        dets = multiclass_nms_class_agnostic(boxes_xyxy, scores, YOLOX_NMS_IOU, YOLOX_NMS_SCORE)
        detections = []
        if dets is not None:
            for x1, y1, x2, y2, score, cls in dets.tolist():
                if score < YOLOX_SCORE:  # vis() draws a box only when score >= conf
                    continue
                detections.append({'classId': int(cls), 'score': round(score, 6), 'box': [round(v, 3) for v in (x1, y1, x2, y2)]})
        results[name] = {
            'width': int(origin_img.shape[1]),
            'height': int(origin_img.shape[0]),
            'canvasSha256': hashlib.sha256(canvas.tobytes()).hexdigest(),
            'detections': detections,
        }
    return {
        'model': 'testdata/models/yolox_nano.onnx',
        'runtime': f'OpenCV DNN {cv2.__version__}',
        'reference': 'Megvii-BaseDetection/YOLOX@6ddff482: data_augment.preproc, demo_utils.demo_postprocess, multiclass_nms(class_agnostic=True, nms_thr=0.45, score_thr=0.1), vis(conf=0.3)',
        'input': {'width': YOLOX_INPUT[1], 'height': YOLOX_INPUT[0]},
        'scoreThreshold': YOLOX_SCORE,
        'canvas': 'BGR HWC uint8 letterbox canvas before the float conversion',
        'images': results,
    }


def prepare_ssd(out_dir):
    os.makedirs(os.path.join(out_dir, 'ssd'), exist_ok=True)
    images = {}
    for name in photos():
        img = cv2.imread(os.path.join(IMAGES, name))
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        resized = cv2.resize(rgb, (SSD_INPUT[1], SSD_INPUT[0]), interpolation=cv2.INTER_LINEAR)
        with open(os.path.join(out_dir, 'ssd', name + '.rgb'), 'wb') as handle:
            handle.write(np.ascontiguousarray(resized).tobytes())
        images[name] = {'width': int(img.shape[1]), 'height': int(img.shape[0]), 'canvasSha256': hashlib.sha256(resized.tobytes()).hexdigest()}
    return {'input': {'width': SSD_INPUT[1], 'height': SSD_INPUT[0]}, 'preprocess': f'cv2.imread, cvtColor BGR2RGB, cv2.resize INTER_LINEAR (OpenCV {cv2.__version__})', 'images': images}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'yolox.json'), 'w') as handle:
        json.dump(run_yolox(), handle, indent=1)
    with open(os.path.join(out_dir, 'ssd.json'), 'w') as handle:
        json.dump(prepare_ssd(out_dir), handle, indent=1)


if __name__ == '__main__':
    main()
