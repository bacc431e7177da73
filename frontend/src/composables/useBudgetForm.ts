/**
 * The budget caps as a form: what the user typed per cap (empty = no cap), checked as they type,
 * and saved together with PUT /usage/budgets. A refusal from the server is shown by handleError
 * (its message is already in the user's language) and leaves what was typed in place.
 */
import { computed, reactive, ref } from 'vue'
import type { BudgetName } from '@/api/types'
import { useBudgetStore } from '@/stores/budget'
import { handleError } from '@/utils/handleError'
import { parseCnyInput, type CnyInput } from '@/utils/money'

/** The server's limits (schemas/usage.py BudgetsIn). */
export const CAP_MAX: Record<BudgetName, number> = { daily: 1_000_000, monthly: 10_000_000 }

function asText(value: number | null | undefined): string {
  return value === null || value === undefined ? '' : String(value)
}

export function useBudgetForm() {
  const budget = useBudgetStore()
  const text = reactive<Record<BudgetName, string>>({ daily: '', monthly: '' })
  const loaded = ref(false)
  const saved = ref(false)

  const parsed = computed<Record<BudgetName, CnyInput>>(() => ({
    daily: parseCnyInput(text.daily, CAP_MAX.daily),
    monthly: parseCnyInput(text.monthly, CAP_MAX.monthly),
  }))
  const valid = computed(() => parsed.value.daily.ok && parsed.value.monthly.ok)
  const dirty = computed(() => {
    const caps = budget.caps
    if (!caps) return false
    const d = parsed.value.daily
    const m = parsed.value.monthly
    return !d.ok || !m.ok || d.value !== caps.daily_cny || m.value !== caps.monthly_cny
  })

  function reset(): void {
    text.daily = asText(budget.caps?.daily_cny)
    text.monthly = asText(budget.caps?.monthly_cny)
  }

  async function load(): Promise<void> {
    try {
      await budget.loadCaps()
      reset()
      loaded.value = true
    } catch (error) {
      handleError(error)
    }
  }

  /** True when saved; false when the form has errors or the server refused. */
  async function save(): Promise<boolean> {
    saved.value = false
    const d = parsed.value.daily
    const m = parsed.value.monthly
    if (!d.ok || !m.ok) return false
    try {
      await budget.saveCaps({ daily_cny: d.value, monthly_cny: m.value })
    } catch (error) {
      handleError(error)
      return false
    }
    reset()
    saved.value = true
    return true
  }

  return { text, parsed, valid, dirty, loaded, saved, load, save, reset }
}
