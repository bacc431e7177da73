/**
 * Justified-row layout for the history gallery, computed from aspect ratios alone (no DOM
 * measuring per card), so the page can render only the rows near the viewport.
 */
import type { Task } from '@/api/types'

export interface JustifiedRow {
  /** index of the first item in the row */
  start: number
  /** index after the last item */
  end: number
  /** px from the top of the gallery */
  top: number
  height: number
  /** false for the last, unfilled row: its items keep the target height and are not stretched */
  complete: boolean
}

export interface JustifiedLayout {
  rows: JustifiedRow[]
  height: number
}

/** width / height of a task's cover, clamped so a panorama cannot take over a whole row. */
export function coverAspect(task: Pick<Task, 'outputs'>): number {
  let cover: Task['outputs'][number] | undefined
  for (const output of task.outputs) if (!cover || output.index < cover.index) cover = output
  const w = cover?.width
  const h = cover?.height
  const ratio = w && h ? w / h : 1
  return Math.min(2.5, Math.max(0.4, ratio))
}

/** How far above the target height a row may be stretched rather than take one more item. */
export const MAX_STRETCH = 1.25

/**
 * Greedy rows: add items at `target` height until the row would be at least `width` wide, then
 * either keep that item (the row shrinks below target) or leave it for the next row (the row
 * stretches above target, up to MAX_STRETCH), whichever height is closer to the target; the
 * row is then scaled to fill the width exactly.
 */
export function justifyRows(aspects: readonly number[], width: number, target: number, gap: number): JustifiedLayout {
  const rows: JustifiedRow[] = []
  let top = 0
  let start = 0
  let sum = 0

  function close(end: number, rowSum: number): void {
    const height = Math.max(1, (width - gap * (end - start - 1)) / rowSum)
    rows.push({ start, end, top, height, complete: true })
    top += height + gap
    start = end
  }

  for (let i = 0; i < aspects.length; i++) {
    const aspect = aspects[i] ?? 1
    const count = i - start + 1
    if ((sum + aspect) * target < width - gap * (count - 1)) {
      sum += aspect
      continue
    }
    const withIt = (width - gap * (count - 1)) / (sum + aspect)
    const without = count > 1 ? (width - gap * (count - 2)) / sum : Infinity
    if (without <= target * MAX_STRETCH && Math.abs(without - target) < Math.abs(withIt - target)) {
      close(i, sum)
      sum = aspect
      // a single item may already fill a row on its own
      if (aspect * target >= width) {
        close(i + 1, aspect)
        sum = 0
      }
    } else {
      close(i + 1, sum + aspect)
      sum = 0
    }
  }
  if (start < aspects.length) {
    rows.push({ start, end: aspects.length, top, height: target, complete: false })
    top += target + gap
  }
  return { rows, height: Math.max(0, top - gap) }
}

/** Indexes [first, last] of the rows overlapping [from, to] (gallery coordinates); [0, -1] if none. */
export function visibleRows(rows: readonly JustifiedRow[], from: number, to: number): [number, number] {
  if (!rows.length || to < from) return [0, -1]
  // first row whose bottom is below `from`
  let lo = 0
  let hi = rows.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const row = rows[mid]!
    if (row.top + row.height < from) lo = mid + 1
    else hi = mid
  }
  const first = lo
  let last = first - 1
  while (last + 1 < rows.length && rows[last + 1]!.top <= to) last++
  return [first, last]
}
