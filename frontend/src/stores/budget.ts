/**
 * Where spend stands against the budgets (the usage summary) and the caps themselves. The summary
 * is re-read when something changes it (a task admitted or finished, caps saved); loads in flight
 * are shared, so several triggers at once cost one request.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { api } from '@/api/client'
import type { Budgets, BudgetsUpdate, BudgetState, UsageSummary } from '@/api/types'

export const useBudgetStore = defineStore('budget', () => {
  const summary = shallowRef<UsageSummary | null>(null)
  const caps = shallowRef<Budgets | null>(null)
  const error = shallowRef<unknown>(null)
  const saving = ref(false)
  let pending: Promise<UsageSummary> | null = null
  let again = false

  /** Budgets at 80% or more of their cap (spent + reserved). */
  const warnings = computed<BudgetState[]>(() => summary.value?.budgets.filter((b) => b.warning && b.cap_cny !== null) ?? [])

  async function loadSummary(): Promise<UsageSummary> {
    if (pending) {
      // something changed while a read was in flight: read once more after it
      again = true
      return pending
    }
    pending = api
      .usageSummary()
      .then((answer) => {
        summary.value = answer
        error.value = null
        return answer
      })
      .catch((err: unknown) => {
        error.value = err
        throw err
      })
      .finally(() => {
        pending = null
        if (again) {
          again = false
          void loadSummary().catch(() => undefined)
        }
      })
    return pending
  }

  async function loadCaps(): Promise<Budgets> {
    caps.value = await api.budgets()
    return caps.value
  }

  async function saveCaps(update: BudgetsUpdate): Promise<Budgets> {
    saving.value = true
    try {
      caps.value = await api.setBudgets(update)
    } finally {
      saving.value = false
    }
    await loadSummary().catch(() => undefined)
    return caps.value
  }

  return { summary, caps, error, saving, warnings, loadSummary, loadCaps, saveCaps }
})
