import { describe, expect, it } from 'vitest'
import { formatCny, fromMicro, parseCnyInput, toMicro } from '@/utils/money'

describe('formatCny', () => {
  it.each([
    [0, 'zh-CN', '¥0.00'],
    [0.2, 'zh-CN', '¥0.20'],
    [0.259, 'zh-CN', '¥0.259'],
    [0.2585, 'en', '¥0.2585'],
    [1.5, 'en', '¥1.50'],
    [1234.5, 'en', '¥1,234.50'],
    [1234.5, 'zh-CN', '¥1,234.50'],
    // beyond 0.1 fen the server never sends; rounded, not cut
    [0.123456, 'en', '¥0.1235'],
  ])('%s in %s reads %s', (value, locale, expected) => {
    expect(formatCny(value, locale)).toBe(expected)
  })

  it('shows a dash for no value', () => {
    expect(formatCny(null, 'en')).toBe('—')
    expect(formatCny(undefined, 'zh-CN')).toBe('—')
    expect(formatCny(Number.NaN, 'en')).toBe('—')
  })
})

describe('micro-yuan', () => {
  it('sums without floating-point drift', () => {
    expect(0.1 + 0.2).not.toBe(0.3)
    expect(fromMicro(toMicro(0.1) + toMicro(0.2))).toBe(0.3)
    expect(fromMicro(3 * toMicro(0.259))).toBe(0.777)
  })
})

describe('parseCnyInput', () => {
  it.each([
    ['', null],
    ['   ', null],
    ['20', 20],
    ['12.5', 12.5],
    ['12.50', 12.5],
    ['0', 0],
    ['.5', 0.5],
    ['¥ 30', 30],
    ['1,000', 1000],
  ])('%j is %s', (text, value) => {
    expect(parseCnyInput(text, 1_000_000)).toEqual({ ok: true, value })
  })

  it.each([
    ['-5', 'money.negative'],
    ['abc', 'money.notANumber'],
    ['1e3', 'money.notANumber'],
    ['12.345', 'money.tooManyDecimals'],
    ['1.2.3', 'money.notANumber'],
  ])('%j is refused with %s', (text, key) => {
    expect(parseCnyInput(text, 1_000_000)).toEqual({ ok: false, key })
  })

  it('refuses more than the maximum, naming it', () => {
    expect(parseCnyInput('1000001', 1_000_000)).toEqual({ ok: false, key: 'money.tooLarge', params: { max: 1_000_000 } })
    expect(parseCnyInput('1000000', 1_000_000)).toEqual({ ok: true, value: 1_000_000 })
  })
})
