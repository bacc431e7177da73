import { describe, expect, it } from 'vitest'
import { MASK_ON, MaskBuffer, sourceRadius, toSource } from '@/utils/mask'
import { crc32, encodeGreyPng } from '@/utils/png'
import { readGreyPng } from '../pngRead'

/** A 400 × 200 source shown at 100 × 50 on screen (a quarter of its size). */
const box = { left: 10, top: 20, width: 100, height: 50 }
const W = 400
const H = 200

describe('mask buffer', () => {
  it('maps screen points to source pixels whatever the display scale', () => {
    expect(toSource(10, 20, box, W, H)).toEqual({ x: 0, y: 0 })
    expect(toSource(60, 45, box, W, H)).toEqual({ x: 200, y: 100 })
    // a 20 px brush on screen covers 80 source pixels here
    expect(sourceRadius(20, box, W)).toBe(40)
    expect(sourceRadius(20, box, W, 0.5)).toBe(20)
    expect(sourceRadius(20, box, W, 0)).toBe(40)
  })

  it('paints a stroke at the source size, with no gaps along a fast drag', () => {
    const mask = new MaskBuffer(W, H)
    mask.begin(toSource(20, 45, box, W, H), 10, false)
    mask.extend(toSource(100, 45, box, W, H), 10, false)
    mask.end()
    expect(mask.data.length).toBe(W * H)
    // the whole line from x=40 to x=360 at y=100 is painted, nothing far above it
    for (let x = 40; x < 360; x++) expect(mask.at(x, 100)).toBe(MASK_ON)
    expect(mask.at(200, 80)).toBe(0)
    expect(mask.at(200, 95)).toBe(MASK_ON)
    expect(mask.at(20, 100)).toBe(0)
    expect(mask.canUndo).toBe(true)
  })

  it('erases, undoes and redoes strokes', () => {
    const mask = new MaskBuffer(W, H)
    mask.begin({ x: 100, y: 100 }, 30, false)
    mask.end()
    const painted = mask.count()
    expect(painted).toBeGreaterThan(2500)
    mask.begin({ x: 100, y: 100 }, 10, true)
    mask.end()
    expect(mask.at(100, 100)).toBe(0)
    expect(mask.at(100, 125)).toBe(MASK_ON)
    expect(mask.count()).toBeLessThan(painted)
    mask.undo()
    expect(mask.count()).toBe(painted)
    mask.undo()
    expect(mask.count()).toBe(0)
    expect(mask.canUndo).toBe(false)
    mask.redo()
    expect(mask.count()).toBe(painted)
    mask.redo()
    expect(mask.at(100, 100)).toBe(0)
    expect(mask.canRedo).toBe(false)
  })

  it('a new stroke drops the redo steps; a stroke that changes nothing is no step', () => {
    const mask = new MaskBuffer(W, H)
    mask.begin({ x: 50, y: 50 }, 5, false)
    mask.end()
    mask.undo()
    expect(mask.canRedo).toBe(true)
    mask.begin({ x: 10, y: 10 }, 5, true) // erasing nothing
    mask.end()
    expect(mask.canRedo).toBe(true)
    expect(mask.canUndo).toBe(false)
    mask.begin({ x: 300, y: 150 }, 5, false)
    mask.end()
    expect(mask.canRedo).toBe(false)
  })

  it('inverts and clears, both undoable', () => {
    const mask = new MaskBuffer(W, H)
    mask.begin({ x: 0, y: 0 }, 20, false)
    mask.end()
    const painted = mask.count()
    mask.invert()
    expect(mask.count()).toBe(W * H - painted)
    expect(mask.at(1, 1)).toBe(0)
    expect(mask.at(399, 199)).toBe(MASK_ON)
    mask.clear()
    expect(mask.isEmpty()).toBe(true)
    expect(mask.clear()).toBeNull()
    mask.undo()
    expect(mask.count()).toBe(W * H - painted)
    mask.undo()
    expect(mask.count()).toBe(painted)
    mask.redo()
    mask.redo()
    expect(mask.isEmpty()).toBe(true)
  })

  it('stays inside the picture when the pointer leaves it', () => {
    const mask = new MaskBuffer(W, H)
    expect(mask.begin({ x: -100, y: -100 }, 10, false)).toBeNull()
    const rect = mask.extend({ x: 2, y: 2 }, 10, false)
    mask.end()
    expect(rect?.x).toBe(0)
    expect(mask.at(0, 0)).toBe(MASK_ON)
  })

  it('refuses a size that is not a picture', () => {
    expect(() => new MaskBuffer(0, 10)).toThrow(RangeError)
    expect(() => new MaskBuffer(1.5, 10)).toThrow(RangeError)
  })
})

describe('mask export', () => {
  it('checksums chunks with the standard CRC-32 (known values)', () => {
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082)
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926)
  })

  it('is a single-channel 8-bit PNG at the source size, 255 where to redraw', async () => {
    const mask = new MaskBuffer(W, H)
    mask.begin({ x: 200, y: 100 }, 40, false)
    mask.end()
    const blob = await encodeGreyPng(mask.data, W, H)
    expect(blob.type).toBe('image/png')
    const png = await readGreyPng(blob)
    expect(png).toMatchObject({ width: W, height: H, bitDepth: 8, colourType: 0 })
    expect(png.pixels).toEqual(mask.data)
    expect(new Set(png.pixels)).toEqual(new Set([0, 255]))
    expect(png.pixels[100 * W + 200]).toBe(255)
    expect(png.pixels[0]).toBe(0)
  })

  it('refuses pixels that do not match the size', async () => {
    await expect(encodeGreyPng(new Uint8Array(10), 4, 4)).rejects.toThrow(RangeError)
  })
})
