/**
 * The price on the Generate button: the current form's estimate, from the cached price list, in
 * the UI's words ("¥0.20", "up to ¥0.80", "free"), recomputed as the form changes with no request.
 */
import { computed } from 'vue'
import { useI18n } from 'vue-i18n'
import { useGenerateFormStore } from '@/stores/generateForm'
import { usePricesStore } from '@/stores/prices'
import type { CostRequest, Estimate } from '@/utils/cost'
import { formatCny } from '@/utils/money'

/** The Generate form's estimate by default; `request` prices anything else (an edit). */
export function useEstimate(request?: () => CostRequest | null) {
  const { t, locale } = useI18n()
  const prices = usePricesStore()
  const form = request ? null : useGenerateFormStore()
  const asked = request ?? (() => form?.costRequest ?? null)

  const estimate = computed<Estimate | null>(() => {
    const r = asked()
    return r ? prices.estimate(r) : null
  })

  /** What the button says after "Generate"; empty while the prices are unknown. */
  const label = computed(() => {
    const e = estimate.value
    if (!e) return ''
    if (e.free) return t('cost.free')
    const amount = formatCny(e.costMaxCny, locale.value) + (e.confirmed ? '' : '*')
    return e.upTo ? t('cost.upTo', { amount }) : amount
  })

  /** How the figure is made: "4 images × ¥0.20". */
  const breakdown = computed(() => {
    const e = estimate.value
    if (!e || e.free) return ''
    return t('cost.breakdown', {
      n: e.units,
      unit: t(`cost.unit.${e.unit}`, e.units),
      price: formatCny(e.unitPriceCny, locale.value),
    })
  })

  return { estimate, label, breakdown }
}
