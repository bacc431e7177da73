import { describe, expect, it } from 'vitest'
import { clampRatio, expandedCanvas, expandToAspect, hasExpansion, noExpand, upscaledSize } from '@/utils/editGeometry'

describe('outpaint geometry', () => {
  it('places the original inside the larger canvas', () => {
    expect(expandedCanvas(1000, 800, { top: 0.25, bottom: 0, left: 0.1, right: 0.5 })).toEqual({
      width: 1600,
      height: 1000,
      x: 100,
      y: 200,
    })
    expect(expandedCanvas(1000, 800, noExpand())).toEqual({ width: 1000, height: 800, x: 0, y: 0 })
  })

  it('clamps each edge to 0..1', () => {
    expect(clampRatio(-0.2)).toBe(0)
    expect(clampRatio(3)).toBe(1)
    expect(clampRatio(Number.NaN)).toBe(0)
    expect(expandedCanvas(100, 100, { top: 5, bottom: -1, left: 0, right: 0 })).toEqual({ width: 100, height: 200, x: 0, y: 100 })
  })

  it('reaches a target aspect by growing the short side evenly', () => {
    const wide = expandToAspect(1000, 1000, 16 / 9)
    expect(wide.top).toBe(0)
    expect(wide.left).toBe(wide.right)
    const canvas = expandedCanvas(1000, 1000, wide)
    expect(canvas.width / canvas.height).toBeCloseTo(16 / 9, 2)
    expect(canvas.x).toBe((canvas.width - 1000) / 2)

    const tall = expandToAspect(1600, 900, 1)
    expect(tall.left).toBe(0)
    const square = expandedCanvas(1600, 900, tall)
    expect(square.width).toBe(1600)
    expect(square.height).toBeCloseTo(1600, -1)
  })

  it('grows nothing for the aspect the image has, and stops at the bound', () => {
    expect(hasExpansion(expandToAspect(1200, 800, 3 / 2))).toBe(false)
    // 1:1 to 21:9 needs more than double the width: each side stops at 100 %
    expect(expandToAspect(100, 100, 21 / 9).left).toBeLessThanOrEqual(1)
    expect(expandToAspect(100, 100, 0)).toEqual(noExpand())
    // a model allowing 3 × per edge reaches 21:9 from a square
    const far = expandToAspect(100, 100, 21 / 9, 3)
    expect(far.left).toBeGreaterThan(0.6)
    const c = expandedCanvas(100, 100, far, 3)
    expect(c.width / c.height).toBeCloseTo(21 / 9, 1)
    expect(clampRatio(2.5, 3)).toBe(2.5)
  })
})

describe('upscale size', () => {
  it('keeps the aspect with a 4K or 8K long side', () => {
    expect(upscaledSize(2048, 2048, 4096)).toEqual({ width: 4096, height: 4096 })
    expect(upscaledSize(1280, 720, 4096)).toEqual({ width: 4096, height: 2304 })
    expect(upscaledSize(720, 1280, 8192)).toEqual({ width: 4608, height: 8192 })
  })
})
