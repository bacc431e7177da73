/**
 * The price list, loaded once per session and shared: every estimate is computed from it in the
 * browser, so editing the form never sends a request.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import { api } from '@/api/client'
import type { PriceList } from '@/api/types'
import { estimateCost, type CostRequest, type Estimate } from '@/utils/cost'

export const usePricesStore = defineStore('prices', () => {
  const list = shallowRef<PriceList | null>(null)
  const error = shallowRef<unknown>(null)
  const loading = ref(false)
  let pending: Promise<void> | null = null

  async function load(force = false): Promise<void> {
    if (pending) return pending
    if (list.value && !force) return
    loading.value = true
    pending = api
      .prices()
      .then((prices) => {
        list.value = prices
        error.value = null
      })
      .catch((err: unknown) => {
        error.value = err
        throw err
      })
      .finally(() => {
        loading.value = false
        pending = null
      })
    return pending
  }

  /** The estimate for a request; null until the prices are known. */
  function estimate(request: CostRequest): Estimate | null {
    return list.value && request.model ? estimateCost(list.value, request) : null
  }

  return { list, error, loading, load, estimate }
})
