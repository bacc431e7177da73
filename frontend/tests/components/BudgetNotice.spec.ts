import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import { defineComponent, h, ref } from 'vue'
import type { BudgetState, UsageSummary } from '@/api/types'
import BudgetNotice from '@/components/BudgetNotice.vue'
import { useBudgetNotice } from '@/composables/useBudgetNotice'
import { applyLocale } from '@/locales'
import type { Estimate } from '@/utils/cost'
import { mockFetch } from '../mocks'
import { jsonResponse, plugins, setupStores } from '../helpers'

const daily = (over: Partial<BudgetState> = {}): BudgetState => ({
  name: 'daily',
  cap_cny: 10,
  spent_cny: 8,
  reserved_cny: 0.5,
  left_cny: 1.5,
  warning: true,
  ...over,
})
const monthly: BudgetState = { name: 'monthly', cap_cny: null, spent_cny: 8, reserved_cny: 0.5, left_cny: null, warning: false }

function summary(budgets: BudgetState[]): UsageSummary {
  return { timezone: 'Asia/Shanghai', today_cny: 8, month_cny: 8, budgets }
}

const estimate = ref<Estimate | null>(null)

const Harness = defineComponent(() => {
  const { notices } = useBudgetNotice(() => estimate.value)
  return () => h(BudgetNotice, { notices: notices.value })
})

async function mountWith(answer: UsageSummary) {
  const fetch = mockFetch({ 'GET /api/v1/usage/summary': () => jsonResponse(answer) })
  const wrapper = mount(Harness, { global: { plugins: plugins(setupStores()) } })
  await flushPromises()
  return { wrapper, fetch }
}

describe('the budget notice on Generate', () => {
  beforeEach(() => {
    applyLocale('zh-CN')
    estimate.value = null
  })

  it('names the budget at 80% and what is left', async () => {
    const { wrapper } = await mountWith(summary([daily(), monthly]))
    const notice = wrapper.get('[data-testid="budget-notice"]')
    expect(notice.findAll('li')).toHaveLength(1)
    expect(notice.get('li[data-budget="daily"]').text()).toBe('每日预算已用 85%（上限 ¥10.00），剩余 ¥1.50。')
    applyLocale('en')
    await flushPromises()
    expect(notice.get('li').text()).toBe('Daily budget: 85% used (cap ¥10.00), ¥1.50 left.')
  })

  it('says nothing below 80% or without a cap', async () => {
    const { wrapper } = await mountWith(summary([daily({ spent_cny: 2, reserved_cny: 0, left_cny: 8, warning: false }), monthly]))
    expect(wrapper.find('[data-testid="budget-notice"]').exists()).toBe(false)
  })

  it('warns that the current form would be refused when its maximum exceeds what is left', async () => {
    const { wrapper } = await mountWith(summary([daily({ spent_cny: 3, reserved_cny: 0, left_cny: 7, warning: false }), monthly]))
    estimate.value = { unit: 'image', unitPriceCny: 2, units: 4, costMaxCny: 8, upTo: false, confirmed: true, free: false }
    await flushPromises()
    const item = wrapper.get('li[data-budget="daily"]')
    expect(item.attributes('data-kind')).toBe('blocked')
    expect(item.text()).toBe('每日预算仅剩 ¥7.00，不足本次最多 ¥8.00，提交会被拒绝。')
    // free generations are never refused
    estimate.value = { ...estimate.value, costMaxCny: 0, free: true }
    await flushPromises()
    expect(wrapper.find('[data-testid="budget-notice"]').exists()).toBe(false)
  })
})
