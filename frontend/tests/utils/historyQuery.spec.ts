import { describe, expect, it } from 'vitest'
import { emptyFilters, isFiltered, readHistoryQuery, writeHistoryQuery } from '@/utils/historyQuery'

describe('history filters in the URL', () => {
  it('round-trips every filter and leaves out what is unset', () => {
    const collection = 'a'.repeat(32)
    const filters = {
      model: 'demo',
      type: 'image2image' as const,
      favorite: true,
      operation: 'outpaint' as const,
      since: '2026-01-01',
      until: '2026-01-31',
      collection,
      minRating: 4,
    }
    const query = writeHistoryQuery(' fox ', filters)
    expect(query).toEqual({
      q: 'fox',
      model: 'demo',
      type: 'image2image',
      favorite: '1',
      operation: 'outpaint',
      since: '2026-01-01',
      until: '2026-01-31',
      collection,
      rating: '4',
    })
    expect(readHistoryQuery(query as never)).toEqual({ q: 'fox', filters })
    expect(writeHistoryQuery('', emptyFilters())).toEqual({})
    expect(isFiltered('', emptyFilters())).toBe(false)
    expect(isFiltered('', { ...emptyFilters(), favorite: true })).toBe(true)
  })

  it('ignores values a hand-edited URL gets wrong', () => {
    expect(readHistoryQuery({ type: 'edit', operation: 'inpaint' }).filters).toMatchObject({ type: 'edit', operation: 'inpaint' })
    expect(
      readHistoryQuery({
        type: 'video',
        operation: 'crop',
        since: 'yesterday',
        favorite: 'yes',
        q: ['a', 'b'],
        rating: '9',
        collection: '../x',
      }),
    ).toEqual({
      q: 'a',
      filters: emptyFilters(),
    })
  })
})
