/**
 * The inpaint / erase mask: one byte per SOURCE pixel (255 = redraw, 0 = keep), whatever size the
 * image is shown at. Strokes, the eraser, invert and clear all edit this buffer; the canvas on
 * screen only mirrors it, so the exported mask is exact at the source's resolution.
 */

export const MASK_ON = 255
export const MASK_OFF = 0

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

export interface Point {
  x: number
  y: number
}

/** An undoable step: the bytes a region held before it changed (invert is its own inverse). */
type Step =
  | { kind: 'region'; rect: Rect; before: Uint8Array; after?: Uint8Array }
  | { kind: 'invert' }
  | { kind: 'full'; before: Uint8Array; after?: Uint8Array }

/** Undo memory is bounded: a 4096² mask is 16 MB, so keep steps, not a copy per step. */
const HISTORY_BYTES = 256 * 1024 * 1024
const HISTORY_STEPS = 100

export class MaskBuffer {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
  private undoStack: Step[] = []
  private redoStack: Step[] = []
  /** The stroke being drawn: its bounding box grows, the bytes before it are copied lazily. */
  private stroke: { before: Uint8Array; rect: Rect | null; last: Point | null } | null = null

  constructor(width: number, height: number) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`invalid mask size ${width}x${height}`)
    }
    this.width = width
    this.height = height
    this.data = new Uint8Array(width * height)
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0
  }

  /** Pixels marked for redrawing. */
  count(): number {
    let n = 0
    for (let i = 0; i < this.data.length; i++) if (this.data[i] === MASK_ON) n++
    return n
  }

  isEmpty(): boolean {
    for (let i = 0; i < this.data.length; i++) if (this.data[i] !== MASK_OFF) return false
    return true
  }

  at(x: number, y: number): number {
    return this.data[y * this.width + x] ?? 0
  }

  /**
   * Start a stroke at `p` (source pixels) with the given radius: paint (255) or erase (0).
   * Returns the region that changed.
   */
  begin(p: Point, radius: number, erase: boolean): Rect | null {
    this.stroke = { before: this.data.slice(), rect: null, last: null }
    return this.extend(p, radius, erase)
  }

  /** Continue the stroke to `p`: stamps along the segment so a fast pointer leaves no gaps. */
  extend(p: Point, radius: number, erase: boolean): Rect | null {
    if (!this.stroke) return this.begin(p, radius, erase)
    const from = this.stroke.last ?? p
    const r = Math.max(0.5, radius)
    const dist = Math.hypot(p.x - from.x, p.y - from.y)
    const steps = Math.max(1, Math.ceil(dist / Math.max(0.5, r / 3)))
    let dirty: Rect | null = null
    for (let i = this.stroke.last ? 1 : 0; i <= steps; i++) {
      const t = i / steps
      dirty = union(dirty, this.stamp(from.x + (p.x - from.x) * t, from.y + (p.y - from.y) * t, r, erase ? MASK_OFF : MASK_ON))
    }
    this.stroke.last = p
    if (dirty) this.stroke.rect = union(this.stroke.rect, dirty)
    return dirty
  }

  /** End the stroke: it becomes one undo step (nothing is recorded if it changed nothing). */
  end(): void {
    const stroke = this.stroke
    this.stroke = null
    if (!stroke?.rect) return
    const before = crop(stroke.before, this.width, stroke.rect)
    const after = crop(this.data, this.width, stroke.rect)
    if (equal(before, after)) return
    this.push({ kind: 'region', rect: stroke.rect, before })
  }

  invert(): Rect {
    this.commitOpenStroke()
    for (let i = 0; i < this.data.length; i++) this.data[i] = MASK_ON - (this.data[i] ?? 0)
    this.push({ kind: 'invert' })
    return this.bounds()
  }

  /** Nothing to redraw; undoable. Returns null when the mask was already empty. */
  clear(): Rect | null {
    this.commitOpenStroke()
    if (this.isEmpty()) return null
    this.push({ kind: 'full', before: this.data.slice() })
    this.data.fill(MASK_OFF)
    return this.bounds()
  }

  /** Fill everything (select the whole picture); undoable. */
  fill(): Rect {
    this.commitOpenStroke()
    this.push({ kind: 'full', before: this.data.slice() })
    this.data.fill(MASK_ON)
    return this.bounds()
  }

  undo(): Rect | null {
    this.commitOpenStroke()
    const step = this.undoStack.pop()
    if (!step) return null
    this.redoStack.push(this.apply(step, 'undo'))
    return this.rectOf(step)
  }

  redo(): Rect | null {
    this.commitOpenStroke()
    const step = this.redoStack.pop()
    if (!step) return null
    this.undoStack.push(this.apply(step, 'redo'))
    return this.rectOf(step)
  }

  bounds(): Rect {
    return { x: 0, y: 0, width: this.width, height: this.height }
  }

  private commitOpenStroke(): void {
    if (this.stroke) this.end()
  }

  /** Swap a step's bytes in and return the step that reverses it. */
  private apply(step: Step, direction: 'undo' | 'redo'): Step {
    if (step.kind === 'invert') {
      for (let i = 0; i < this.data.length; i++) this.data[i] = MASK_ON - (this.data[i] ?? 0)
      return step
    }
    const target = direction === 'undo' ? step.before : step.after
    if (!target) throw new Error('redo without its bytes')
    if (step.kind === 'full') {
      const current = this.data.slice()
      this.data.set(target)
      return direction === 'undo' ? { kind: 'full', before: step.before, after: current } : { kind: 'full', before: current }
    }
    const current = crop(this.data, this.width, step.rect)
    paste(this.data, this.width, step.rect, target)
    return direction === 'undo'
      ? { kind: 'region', rect: step.rect, before: step.before, after: current }
      : { kind: 'region', rect: step.rect, before: current }
  }

  private rectOf(step: Step): Rect {
    return step.kind === 'region' ? step.rect : this.bounds()
  }

  private push(step: Step): void {
    this.undoStack.push(step)
    this.redoStack = []
    let bytes = this.undoStack.reduce((sum, s) => sum + stepBytes(s), 0)
    while (this.undoStack.length > HISTORY_STEPS || (bytes > HISTORY_BYTES && this.undoStack.length > 1)) {
      const dropped = this.undoStack.shift()
      if (dropped) bytes -= stepBytes(dropped)
    }
  }

  /** A filled disc; returns its clipped bounding box, or null when it lies outside the mask. */
  private stamp(cx: number, cy: number, r: number, value: number): Rect | null {
    const x0 = Math.max(0, Math.floor(cx - r))
    const y0 = Math.max(0, Math.floor(cy - r))
    const x1 = Math.min(this.width - 1, Math.ceil(cx + r))
    const y1 = Math.min(this.height - 1, Math.ceil(cy + r))
    if (x0 > x1 || y0 > y1) return null
    const r2 = r * r
    for (let y = y0; y <= y1; y++) {
      // pixel centres: a radius of 0.5 still covers the pixel under the pointer
      const dy = y + 0.5 - cy
      const row = y * this.width
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx
        if (dx * dx + dy * dy <= r2) this.data[row + x] = value
      }
    }
    return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }
  }
}

function stepBytes(step: Step): number {
  if (step.kind === 'invert') return 0
  return step.before.length + (step.after?.length ?? 0)
}

export function union(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) return b
  if (!b) return a
  const x = Math.min(a.x, b.x)
  const y = Math.min(a.y, b.y)
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  }
}

function crop(data: Uint8Array, stride: number, rect: Rect): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height)
  for (let y = 0; y < rect.height; y++) {
    const start = (rect.y + y) * stride + rect.x
    out.set(data.subarray(start, start + rect.width), y * rect.width)
  }
  return out
}

function paste(data: Uint8Array, stride: number, rect: Rect, bytes: Uint8Array): void {
  for (let y = 0; y < rect.height; y++) {
    data.set(bytes.subarray(y * rect.width, (y + 1) * rect.width), (rect.y + y) * stride + rect.x)
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Where a pointer at (clientX, clientY) falls on the source, given the element's box on screen:
 * the display may be any size, the mask is always the source's.
 */
export function toSource(clientX: number, clientY: number, box: Pick<DOMRect, 'left' | 'top' | 'width' | 'height'>, width: number, height: number): Point {
  return {
    x: ((clientX - box.left) / box.width) * width,
    y: ((clientY - box.top) / box.height) * height,
  }
}

/**
 * A brush of `size` screen pixels as a radius in source pixels; a pen's pressure (0-1) narrows it,
 * a mouse or finger (pressure 0 or 0.5 by spec) does not.
 */
export function sourceRadius(size: number, box: Pick<DOMRect, 'width'>, width: number, pressure?: number): number {
  const scale = width / Math.max(1, box.width)
  const p = pressure !== undefined && pressure > 0 && pressure < 1 ? Math.max(0.2, pressure) : 1
  return (size / 2) * scale * p
}
