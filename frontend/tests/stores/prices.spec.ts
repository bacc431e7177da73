import { describe, expect, it } from 'vitest'
import { usePricesStore } from '@/stores/prices'
import { prices } from '../fixtures/prices'
import { mockFetch } from '../mocks'
import { jsonResponse, setupStores } from '../helpers'

describe('prices store', () => {
  it('loads the price list once and estimates from it without asking again', async () => {
    const fetch = mockFetch({ 'GET /api/v1/usage/prices': () => jsonResponse(prices) })
    setupStores()
    const store = usePricesStore()
    expect(store.estimate({ model: 'doubao-seedream-4-0-250828', images: 2, group: false })).toBeNull()
    await Promise.all([store.load(), store.load()])
    await store.load()
    const costs = [1, 2, 3, 4].map((images) => store.estimate({ model: 'doubao-seedream-4-0-250828', images, group: false })?.costMaxCny)
    expect(costs).toEqual([0.2, 0.4, 0.6, 0.8])
    expect(fetch).toHaveBeenCalledTimes(1)
  })

  it('tries again after a failure', async () => {
    let calls = 0
    mockFetch({
      'GET /api/v1/usage/prices': () => (++calls === 1 ? jsonResponse({ error: { code: 'internal_error', message: 'x' } }, 500) : jsonResponse(prices)),
    })
    setupStores()
    const store = usePricesStore()
    await expect(store.load()).rejects.toMatchObject({ code: 'internal_error' })
    await store.load()
    expect(store.list).toEqual(prices)
  })
})
