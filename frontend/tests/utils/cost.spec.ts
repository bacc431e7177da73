import { describe, expect, it } from 'vitest'
import { estimateCost, priceFor, taskCost } from '@/utils/cost'
import { prices } from '../fixtures/prices'

describe('estimateCost', () => {
  it('is images × unit price for independent images', () => {
    expect(estimateCost(prices, { model: 'doubao-seedream-4-0-250828', images: 1, group: false })).toEqual({
      unit: 'image',
      unitPriceCny: 0.2,
      units: 1,
      costMaxCny: 0.2,
      upTo: false,
      confirmed: true,
      free: false,
    })
    expect(estimateCost(prices, { model: 'doubao-seedream-4-0-250828', images: 4, group: false }).costMaxCny).toBe(0.8)
  })

  it('counts in micro-yuan: 3 × 0.259 is 0.777, not 0.7770000000000001', () => {
    expect(estimateCost(prices, { model: 'doubao-seedream-3-0-t2i-250415', images: 3, group: false }).costMaxCny).toBe(0.777)
  })

  it('takes a group at its maximum and marks it "up to"', () => {
    const e = estimateCost(prices, { model: 'doubao-seedream-4-5-251128', images: 6, group: true })
    expect(e.costMaxCny).toBe(1.5)
    expect(e.units).toBe(6)
    expect(e.upTo).toBe(true)
  })

  it('bills a per-call model one unit per call: a group is one call, exact', () => {
    expect(estimateCost(prices, { model: 'per_call', images: 6, group: true })).toMatchObject({ units: 1, costMaxCny: 0.3, upTo: false })
    expect(estimateCost(prices, { model: 'per_call', images: 3, group: false })).toMatchObject({ units: 3, costMaxCny: 0.9 })
  })

  it('the demo model is free, whatever the count', () => {
    expect(estimateCost(prices, { model: 'demo', images: 4, group: false })).toMatchObject({ costMaxCny: 0, free: true, upTo: false })
    expect(estimateCost(prices, { model: 'demo', images: 6, group: true })).toMatchObject({ free: true, upTo: false })
  })

  it('counts a model the list does not name at the default price, unconfirmed', () => {
    expect(priceFor(prices, 'some-new-endpoint')).toBe(prices.default)
    expect(estimateCost(prices, { model: 'some-new-endpoint', images: 2, group: false })).toMatchObject({
      costMaxCny: 0.5,
      confirmed: false,
    })
  })

  it('passes on an unconfirmed price as unconfirmed', () => {
    expect(estimateCost(prices, { model: 'jimeng_t2i_v30', images: 1, group: false }).confirmed).toBe(false)
  })

  it('never counts fewer than one image', () => {
    expect(estimateCost(prices, { model: 'doubao-seedream-4-0-250828', images: 0, group: false }).costMaxCny).toBe(0.2)
  })
})

describe('taskCost', () => {
  const base = { is_demo: false, cost_cny: null, cost_max_cny: 0, billed_images: null }

  it('is "up to" the reserved maximum while the task runs', () => {
    expect(taskCost({ ...base, cost_max_cny: 0.8 })).toEqual({ state: 'upTo', cny: 0.8 })
  })

  it('is the settled cost and billed images once it ended', () => {
    expect(taskCost({ ...base, cost_max_cny: 0.8, cost_cny: 0.4, billed_images: 2 })).toEqual({ state: 'settled', cny: 0.4, images: 2 })
    expect(taskCost({ ...base, cost_max_cny: 0.2, cost_cny: 0, billed_images: 0 })).toEqual({ state: 'settled', cny: 0, images: 0 })
  })

  it('a demo task is free, running or ended', () => {
    expect(taskCost({ ...base, is_demo: true })).toEqual({ state: 'free' })
    expect(taskCost({ ...base, is_demo: true, cost_cny: 0, billed_images: 1 })).toEqual({ state: 'free' })
  })

  it('says nothing before the server told the task its price', () => {
    expect(taskCost(base)).toEqual({ state: 'unknown' })
  })
})
