/**
 * The geometry of outpaint and upscale, shown before anything is sent: the new canvas with the
 * original placed inside it, and an upscale's output size.
 */

export type Edge = 'top' | 'bottom' | 'left' | 'right'
export const EDGES: readonly Edge[] = ['top', 'bottom', 'left', 'right']

/** Each edge's growth as a fraction of the source's side it extends (0.25 = a quarter more). */
export type Expand = Record<Edge, number>

/** Each edge's range when the model's rules do not say (the demo's, and the server checks anyway). */
export const EXPAND_MAX = 1

export interface Canvas {
  width: number
  height: number
  /** Where the original sits in the new canvas, in its pixels. */
  x: number
  y: number
}

export function noExpand(): Expand {
  return { top: 0, bottom: 0, left: 0, right: 0 }
}

export function clampRatio(value: number, max = EXPAND_MAX): number {
  if (!Number.isFinite(value)) return 0
  return Math.round(Math.min(max, Math.max(0, value)) * 1000) / 1000
}

export function expandedCanvas(width: number, height: number, expand: Expand, max = EXPAND_MAX): Canvas {
  const left = Math.round(width * clampRatio(expand.left, max))
  const right = Math.round(width * clampRatio(expand.right, max))
  const top = Math.round(height * clampRatio(expand.top, max))
  const bottom = Math.round(height * clampRatio(expand.bottom, max))
  return { width: width + left + right, height: height + top + bottom, x: left, y: top }
}

export function hasExpansion(expand: Expand): boolean {
  return EDGES.some((edge) => clampRatio(expand[edge]) > 0)
}

/**
 * The expansion that reaches `aspect` (width / height) by growing only the short dimension,
 * evenly on both sides; an aspect the image already has (or one out of reach) grows nothing.
 */
export function expandToAspect(width: number, height: number, aspect: number, max = EXPAND_MAX): Expand {
  const out = noExpand()
  if (!(aspect > 0) || !(width > 0) || !(height > 0)) return out
  const current = width / height
  if (Math.abs(current - aspect) < 1e-6) return out
  if (aspect > current) {
    const side = clampRatio((height * aspect - width) / width / 2, max)
    out.left = side
    out.right = side
  } else {
    const side = clampRatio((width / aspect - height) / height / 2, max)
    out.top = side
    out.bottom = side
  }
  return out
}

export interface AspectPreset {
  label: string
  value: number
}

export const ASPECT_PRESETS: readonly AspectPreset[] = [
  { label: '1:1', value: 1 },
  { label: '4:3', value: 4 / 3 },
  { label: '3:4', value: 3 / 4 },
  { label: '16:9', value: 16 / 9 },
  { label: '9:16', value: 9 / 16 },
  { label: '3:2', value: 3 / 2 },
  { label: '2:3', value: 2 / 3 },
  { label: '21:9', value: 21 / 9 },
]

export type Resolution = '4k' | '8k'
export interface UpscaleTarget {
  resolution: Resolution
  long_side: number
}
/** The long side of a super-resolved picture (the aspect ratio is kept), when the model does not say. */
export const DEFAULT_TARGETS: readonly UpscaleTarget[] = [
  { resolution: '4k', long_side: 4096 },
  { resolution: '8k', long_side: 8192 },
]

export function upscaledSize(width: number, height: number, longSide: number): { width: number; height: number } {
  const scale = longSide / Math.max(width, height)
  return { width: Math.round(width * scale), height: Math.round(height * scale) }
}
