import { z } from 'zod';

export const ModelFormatSchema = z.enum(['onnx', 'tflite']);
export type ModelFormat = z.infer<typeof ModelFormatSchema>;

export const ModelFamilySchema = z.enum(['ssd', 'yolox', 'tiny-yolov3', 'classification']);
export type ModelFamily = z.infer<typeof ModelFamilySchema>;

/** The model format implied by a file name, or undefined when the extension names none. */
export function modelFormatFromFileName(fileName: string): ModelFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.onnx')) return 'onnx';
  if (lower.endsWith('.tflite') || lower.endsWith('.litert')) return 'tflite';
  return undefined;
}
