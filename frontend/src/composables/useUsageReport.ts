/**
 * The Usage page's state: the chosen range of billing days (kept in the URL as ?from=&to=, so a
 * view can be reloaded or shared), spend per day and per model over it, and the CSV links. A new
 * range cancels the loads still in flight for the old one.
 */
import { computed, onBeforeUnmount, ref, shallowRef, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { api, isAbortError } from '@/api/client'
import type { UsageGroupBy, UsageReport } from '@/api/types'
import { useBudgetStore } from '@/stores/budget'
import { daysInRange, isDay, presetOf, presetRange, todayIn, type DayRange, type RangePreset } from '@/utils/billingDay'

/** The server refuses longer ranges (MAX_RANGE_DAYS in services/usage.py). */
export const MAX_RANGE_DAYS = 3660
export const DEFAULT_PRESET: RangePreset = 'last30'

export type RangeProblem = { key: string; params?: Record<string, number> }

export function rangeProblem(range: DayRange): RangeProblem | null {
  if (!isDay(range.from) || !isDay(range.to)) return { key: 'usage.rangeInvalid' }
  if (range.from > range.to) return { key: 'usage.rangeReversed' }
  if (daysInRange(range) > MAX_RANGE_DAYS) return { key: 'usage.rangeTooLong', params: { max: MAX_RANGE_DAYS } }
  return null
}

function queryDay(value: unknown): string | null {
  const text = Array.isArray(value) ? value[0] : value
  return typeof text === 'string' && isDay(text) ? text : null
}

export function useUsageReport() {
  const route = useRoute()
  const router = useRouter()
  const budget = useBudgetStore()

  const summary = computed(() => budget.summary)
  /** The billing time zone (the server's); the browser's until the summary is known. */
  const timezone = computed(() => summary.value?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone)
  const today = computed(() => todayIn(timezone.value))

  /** What the inputs show; applied (and put in the URL) only when it is a valid range. */
  const draft = ref<DayRange>(presetRange(DEFAULT_PRESET, today.value))
  const problem = computed(() => rangeProblem(draft.value))
  const preset = computed(() => presetOf(draft.value, today.value))

  const byDay = shallowRef<UsageReport | null>(null)
  const byModel = shallowRef<UsageReport | null>(null)
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  let controller: AbortController | null = null

  /** The range in force: the URL's, or the default preset. */
  const applied = computed<DayRange>(() => {
    const from = queryDay(route.query.from)
    const to = queryDay(route.query.to)
    return from && to ? { from, to } : presetRange(DEFAULT_PRESET, today.value)
  })

  async function load(range: DayRange): Promise<void> {
    controller?.abort()
    const mine = new AbortController()
    controller = mine
    loading.value = true
    try {
      const query = (group_by: UsageGroupBy) => ({ from: range.from, to: range.to, group_by })
      const [days, models] = await Promise.all([
        api.usage(query('day'), mine.signal),
        api.usage(query('model'), mine.signal),
      ])
      byDay.value = days
      byModel.value = models
      error.value = null
    } catch (err) {
      if (isAbortError(err)) return
      error.value = err
    } finally {
      if (controller === mine) {
        loading.value = false
        controller = null
      }
    }
  }

  /** Show `range`: in the URL (replacing, so Back leaves the page) and then in the charts. */
  function apply(range: DayRange): void {
    draft.value = { ...range }
    if (rangeProblem(range)) return
    if (applied.value.from === range.from && applied.value.to === range.to) return
    void router.replace({ query: { ...route.query, from: range.from, to: range.to } })
  }

  function choosePreset(next: RangePreset): void {
    apply(presetRange(next, today.value))
  }

  function refresh(): void {
    void budget.loadSummary().catch(() => undefined)
    if (!rangeProblem(applied.value)) void load(applied.value)
  }

  // A new range in the URL (or a new "today" once the billing time zone is known) loads again.
  watch(
    () => `${applied.value.from}/${applied.value.to}`,
    () => {
      draft.value = { ...applied.value }
      if (!rangeProblem(applied.value)) void load(applied.value)
    },
  )

  async function start(): Promise<void> {
    // Today is a day in the billing time zone: know the zone before choosing a default range.
    await budget.loadSummary().catch(() => undefined)
    draft.value = { ...applied.value }
    if (!rangeProblem(applied.value)) await load(applied.value)
  }

  onBeforeUnmount(() => controller?.abort())

  const csvDay = computed(() => api.usageCsvUrl({ ...applied.value, group_by: 'day' }))
  const csvModel = computed(() => api.usageCsvUrl({ ...applied.value, group_by: 'model' }))

  return {
    summary,
    timezone,
    today,
    draft,
    applied,
    problem,
    preset,
    byDay,
    byModel,
    loading,
    error,
    apply,
    choosePreset,
    refresh,
    start,
    csvDay,
    csvModel,
  }
}
