/** Size rules of a model, and the live check of a custom W×H against them. */

export interface SizeLimits {
  minPixels: number | null
  maxPixels: number | null
  minSide: number | null
  maxSide: number | null
  /** width / height */
  minAspect: number | null
  maxAspect: number | null
}

/** An i18n key plus its parameters; the component turns it into words. */
export interface SizeProblem {
  key:
    | 'size.errors.required'
    | 'size.errors.integer'
    | 'size.errors.minSide'
    | 'size.errors.maxSide'
    | 'size.errors.minPixels'
    | 'size.errors.maxPixels'
    | 'size.errors.aspect'
  params: Record<string, string | number>
}

const SIZE_RE = /^(\d{1,5})\s*[x×*]\s*(\d{1,5})$/i

export function parseSize(text: string | null | undefined): { width: number; height: number } | null {
  if (!text) return null
  const match = SIZE_RE.exec(text.trim())
  if (!match) return null
  return { width: Number(match[1]), height: Number(match[2]) }
}

export function formatSize(width: number, height: number): string {
  return `${width}x${height}`
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b]
  return a
}

/** "16:9" for 2560×1440; long ratios are shown as a decimal ("2.33:1"). */
export function aspectLabel(width: number, height: number): string {
  if (!width || !height) return ''
  const d = gcd(width, height)
  const w = width / d
  const h = height / d
  if (w <= 21 && h <= 21) return `${w}:${h}`
  return width >= height ? `${(width / height).toFixed(2)}:1` : `1:${(height / width).toFixed(2)}`
}

function ratioText(value: number): string {
  if (value >= 1) return `${Number(value.toFixed(2))}:1`
  return `1:${Number((1 / value).toFixed(2))}`
}

function megapixels(pixels: number): string {
  return `${Number((pixels / 1_000_000).toFixed(2))} MP`
}

/** The first rule that `width`×`height` breaks, or null when the size is acceptable. */
export function checkSize(width: number | null, height: number | null, limits: SizeLimits): SizeProblem | null {
  if (width === null || height === null || !width || !height) return { key: 'size.errors.required', params: {} }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    return { key: 'size.errors.integer', params: {} }
  }
  const shorter = Math.min(width, height)
  const longer = Math.max(width, height)
  if (limits.minSide !== null && shorter < limits.minSide) {
    return { key: 'size.errors.minSide', params: { min: limits.minSide } }
  }
  if (limits.maxSide !== null && longer > limits.maxSide) {
    return { key: 'size.errors.maxSide', params: { max: limits.maxSide } }
  }
  const pixels = width * height
  if (limits.minPixels !== null && pixels < limits.minPixels) {
    return {
      key: 'size.errors.minPixels',
      params: { min: limits.minPixels, minText: megapixels(limits.minPixels), current: megapixels(pixels) },
    }
  }
  if (limits.maxPixels !== null && pixels > limits.maxPixels) {
    return {
      key: 'size.errors.maxPixels',
      params: { max: limits.maxPixels, maxText: megapixels(limits.maxPixels), current: megapixels(pixels) },
    }
  }
  const aspect = width / height
  const tooNarrow = limits.minAspect !== null && aspect < limits.minAspect - 1e-9
  const tooWide = limits.maxAspect !== null && aspect > limits.maxAspect + 1e-9
  if (tooNarrow || tooWide) {
    return {
      key: 'size.errors.aspect',
      params: {
        min: limits.minAspect !== null ? ratioText(limits.minAspect) : '—',
        max: limits.maxAspect !== null ? ratioText(limits.maxAspect) : '—',
        current: aspectLabel(width, height),
      },
    }
  }
  return null
}
