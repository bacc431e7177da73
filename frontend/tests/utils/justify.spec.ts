import { describe, expect, it } from 'vitest'
import { coverAspect, justifyRows, MAX_STRETCH, visibleRows } from '@/utils/justify'
import { makeTask, output } from '../helpers'

describe('justifyRows', () => {
  it('fills each complete row exactly to the width and keeps the last row at the target height', () => {
    const aspects = [1, 1.5, 0.75, 1, 2, 1, 1, 1]
    const { rows, height } = justifyRows(aspects, 1000, 200, 6)
    for (const row of rows.filter((r) => r.complete)) {
      const widths = aspects.slice(row.start, row.end).map((a) => a * row.height)
      const used = widths.reduce((a, b) => a + b, 0) + 6 * (row.end - row.start - 1)
      expect(used).toBeCloseTo(1000, 6)
      expect(row.height).toBeLessThanOrEqual(200 * MAX_STRETCH)
    }
    const last = rows.at(-1)!
    expect(last.end).toBe(aspects.length)
    // rows are contiguous, stacked with the gap, and cover every item once
    expect(rows[0]!.start).toBe(0)
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]!.start).toBe(rows[i - 1]!.end)
      expect(rows[i]!.top).toBeCloseTo(rows[i - 1]!.top + rows[i - 1]!.height + 6, 6)
    }
    expect(height).toBeCloseTo(last.top + last.height, 6)
  })

  it('handles nothing, and a short last row', () => {
    expect(justifyRows([], 1000, 200, 6)).toEqual({ rows: [], height: 0 })
    const { rows } = justifyRows([1], 1000, 200, 6)
    expect(rows).toEqual([{ start: 0, end: 1, top: 0, height: 200, complete: false }])
  })

  it('scales to thousands of items quickly', () => {
    const aspects = Array.from({ length: 20000 }, (_, i) => [1, 1.5, 0.75, 2, 0.5][i % 5]!)
    const t0 = performance.now()
    const { rows } = justifyRows(aspects, 1300, 200, 6)
    expect(performance.now() - t0).toBeLessThan(100)
    expect(rows.at(-1)!.end).toBe(20000)
  })
})

describe('visibleRows', () => {
  // 5 square cards per row: (1030 - 4 gaps) / 5 = 201.2px, closer to 200 than 6 per row (166px)
  const { rows } = justifyRows(Array.from({ length: 100 }, () => 1), 1030, 200, 6)
  it('returns the rows overlapping a window', () => {
    expect(rows[0]!.end).toBe(5)
    expect(rows[0]!.height).toBeCloseTo(201.2, 6)
    expect(visibleRows(rows, 0, 100)).toEqual([0, 0])
    expect(visibleRows(rows, 300, 700)).toEqual([1, 3])
    expect(visibleRows(rows, -5000, 5000)).toEqual([0, rows.length - 1])
    expect(visibleRows(rows, 99999, 100000)).toEqual([rows.length, rows.length - 1])
    expect(visibleRows([], 0, 100)).toEqual([0, -1])
  })
})

describe('coverAspect', () => {
  it('uses the first output and clamps panoramas', () => {
    expect(coverAspect(makeTask({ outputs: [output(1), output(0)] }))).toBeCloseTo(4 / 3, 6)
    expect(coverAspect(makeTask({ outputs: [{ ...output(0), width: 4000, height: 500 }] }))).toBe(2.5)
    expect(coverAspect(makeTask({ outputs: [] }))).toBe(1)
  })
})
