/**
 * What the Generate page says about the budgets: each cap at 80% or more (spent + reserved), and
 * any cap whose remainder is less than what the current form may cost (the server would refuse it).
 * The summary is re-read whenever the number of running tasks changes: a task admitted reserves its
 * maximum, a task that ends settles its cost.
 */
import { computed, onMounted, watch } from 'vue'
import { useI18n } from 'vue-i18n'
import type { BudgetState } from '@/api/types'
import { useBudgetStore } from '@/stores/budget'
import { useTasksStore } from '@/stores/tasks'
import type { Estimate } from '@/utils/cost'
import { formatCny } from '@/utils/money'

export interface BudgetNotice {
  name: BudgetState['name']
  /** `blocked`: the current form's maximum does not fit in what is left. */
  kind: 'warning' | 'blocked'
  text: string
}

export function useBudgetNotice(estimate: () => Estimate | null) {
  const { t, locale } = useI18n()
  const budget = useBudgetStore()
  const tasks = useTasksStore()

  function refresh(): void {
    // informative only: without a summary there is simply no notice
    void budget.loadSummary().catch(() => undefined)
  }

  onMounted(refresh)
  watch(() => tasks.activeCount, refresh)

  const notices = computed<BudgetNotice[]>(() => {
    const out: BudgetNotice[] = []
    const e = estimate()
    const money = (cny: number | null) => formatCny(cny, locale.value)
    for (const b of budget.summary?.budgets ?? []) {
      if (b.cap_cny === null || b.left_cny === null) continue
      const name = t(`budget.names.${b.name}`)
      if (e && !e.free && e.costMaxCny > b.left_cny) {
        out.push({ name: b.name, kind: 'blocked', text: t('budget.blocked', { name, left: money(b.left_cny), cost: money(e.costMaxCny) }) })
      } else if (b.warning) {
        const used = b.spent_cny + b.reserved_cny
        const percent = b.cap_cny > 0 ? Math.min(100, Math.floor((used / b.cap_cny) * 100)) : 100
        out.push({ name: b.name, kind: 'warning', text: t('budget.warning', { name, percent, cap: money(b.cap_cny), left: money(b.left_cny) }) })
      }
    }
    return out
  })

  return { notices, refresh }
}
