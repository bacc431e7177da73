import { describe, expect, it } from 'vitest'
import { MAX_RANGE_DAYS, rangeProblem } from '@/composables/useUsageReport'

describe('usage range checks', () => {
  it('accepts a range of real days in order, one day included', () => {
    expect(rangeProblem({ from: '2026-11-01', to: '2026-11-30' })).toBeNull()
    expect(rangeProblem({ from: '2026-11-30', to: '2026-11-30' })).toBeNull()
  })

  it('explains what is wrong', () => {
    expect(rangeProblem({ from: '2026-12-01', to: '2026-11-30' })).toEqual({ key: 'usage.rangeReversed' })
    expect(rangeProblem({ from: '', to: '2026-11-30' })).toEqual({ key: 'usage.rangeInvalid' })
    expect(rangeProblem({ from: '2010-01-01', to: '2026-11-30' })).toEqual({
      key: 'usage.rangeTooLong',
      params: { max: MAX_RANGE_DAYS },
    })
  })
})
