import { describe, expect, it } from 'vitest'
import { addDays, daysInRange, isDay, presetOf, presetRange, todayIn } from '@/utils/billingDay'

describe('billing days', () => {
  it('today is the date in the billing time zone, not the browser one', () => {
    const instant = new Date('2026-11-30T17:30:00Z') // 01:30 on 1 December in Shanghai
    expect(todayIn('Asia/Shanghai', instant)).toBe('2026-12-01')
    expect(todayIn('UTC', instant)).toBe('2026-11-30')
    expect(todayIn('America/Los_Angeles', instant)).toBe('2026-11-30')
    expect(todayIn('Not/AZone', instant)).toBe('2026-11-30')
  })

  it('adds days across months, years and DST changes', () => {
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28')
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29')
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
    expect(addDays('2026-03-29', 1)).toBe('2026-03-30')
  })

  it('checks dates for real', () => {
    expect(isDay('2026-02-28')).toBe(true)
    expect(isDay('2026-02-30')).toBe(false)
    expect(isDay('2026-2-3')).toBe(false)
    expect(isDay('')).toBe(false)
  })

  it('presets end today and count today in', () => {
    expect(presetRange('last7', '2026-12-03')).toEqual({ from: '2026-11-27', to: '2026-12-03' })
    expect(presetRange('last30', '2026-12-03')).toEqual({ from: '2026-11-04', to: '2026-12-03' })
    expect(presetRange('thisMonth', '2026-12-03')).toEqual({ from: '2026-12-01', to: '2026-12-03' })
    expect(daysInRange(presetRange('last7', '2026-12-03'))).toBe(7)
    expect(daysInRange(presetRange('last30', '2026-12-03'))).toBe(30)
  })

  it('recognises a preset range, and none for any other', () => {
    expect(presetOf({ from: '2026-11-04', to: '2026-12-03' }, '2026-12-03')).toBe('last30')
    expect(presetOf({ from: '2026-12-01', to: '2026-12-03' }, '2026-12-03')).toBe('thisMonth')
    expect(presetOf({ from: '2026-11-01', to: '2026-12-03' }, '2026-12-03')).toBeNull()
  })
})
