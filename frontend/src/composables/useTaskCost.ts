/** A task's cost in the UI's words: "¥0.40 (2 images billed)", "up to ¥0.80", "free". */
import { computed, type MaybeRefOrGetter, toValue } from 'vue'
import { useI18n } from 'vue-i18n'
import type { Task } from '@/api/types'
import { taskCost, type TaskCost } from '@/utils/cost'
import { formatCny } from '@/utils/money'

type CostFields = Pick<Task, 'is_demo' | 'cost_cny' | 'cost_max_cny' | 'billed_images'> &
  Partial<Pick<Task, 'web_searches'>>

export function useTaskCost(task: MaybeRefOrGetter<CostFields>) {
  const { t, locale } = useI18n()
  const cost = computed<TaskCost>(() => taskCost(toValue(task)))

  /** The amount alone ("¥0.40", "up to ¥0.80", "free"), for badges. */
  const short = computed(() => {
    const c = cost.value
    switch (c.state) {
      case 'free':
        return t('cost.free')
      case 'settled':
        return formatCny(c.cny, locale.value)
      case 'upTo':
        return t('cost.upTo', { amount: formatCny(c.cny, locale.value) })
      default:
        return ''
    }
  })

  /** With the billed images once known: "¥0.40 (2 images billed)", and the web searches the
   * model ran, which are billed upstream but not priced here (no official price found). */
  const long = computed(() => {
    const c = cost.value
    const base =
      c.state === 'settled' && c.images !== null
        ? t('cost.settled', { amount: formatCny(c.cny, locale.value), n: c.images }, c.images)
        : short.value
    const searches = toValue(task).web_searches ?? 0
    return base && searches > 0 ? `${base} ${t('cost.webSearches', { n: searches }, searches)}` : base
  })

  return { cost, short, long }
}
