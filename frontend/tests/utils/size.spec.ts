import { describe, expect, it } from 'vitest'
import { capabilitiesOf } from '@/utils/capabilities'
import { aspectLabel, checkSize, parseSize } from '@/utils/size'
import { modelById } from '../helpers'

const seedream40 = capabilitiesOf(modelById('doubao-seedream-4-0-250828')).limits
const seedream30 = capabilitiesOf(modelById('doubao-seedream-3-0-t2i-250415')).limits

describe('checkSize', () => {
  it.each([
    [2048, 2048, seedream40, null],
    [1280, 720, seedream40, null],
    [1024, 512, seedream40, 'size.errors.minPixels'],
    [4096, 4097, seedream40, 'size.errors.maxPixels'],
    [16384, 1000, seedream40, 'size.errors.aspect'],
    [1024, 1024, seedream30, null],
    [511, 1024, seedream30, 'size.errors.minSide'],
    [2049, 1024, seedream30, 'size.errors.maxSide'],
    [null, 1024, seedream30, 'size.errors.required'],
    [10.5, 1024, seedream30, 'size.errors.integer'],
  ])('%s×%s → %s', (w, h, limits, key) => {
    expect(checkSize(w, h, limits)?.key ?? null).toBe(key)
  })

  it('says which range the aspect ratio must fall in', () => {
    expect(checkSize(16384, 1000, seedream40)?.params).toMatchObject({ min: '1:16', max: '16:1' })
  })
})

describe('size helpers', () => {
  it('parses W×H in the usual spellings', () => {
    expect(parseSize('1024x768')).toEqual({ width: 1024, height: 768 })
    expect(parseSize('1024×768')).toEqual({ width: 1024, height: 768 })
    expect(parseSize('2K')).toBeNull()
  })

  it('labels aspect ratios', () => {
    expect(aspectLabel(2560, 1440)).toBe('16:9')
    expect(aspectLabel(1000, 3)).toBe('333.33:1')
  })
})
