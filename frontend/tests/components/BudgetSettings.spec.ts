import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Budgets, UsageSummary } from '@/api/types'
import BudgetSettings from '@/components/BudgetSettings.vue'
import { applyLocale } from '@/locales'
import { mockFetch } from '../mocks'
import { jsonResponse, plugins, setupStores } from '../helpers'

const summary: UsageSummary = {
  timezone: 'Asia/Shanghai',
  today_cny: 0.4,
  month_cny: 2.6,
  budgets: [
    { name: 'daily', cap_cny: 0.5, spent_cny: 0.4, reserved_cny: 0, left_cny: 0.1, warning: true },
    { name: 'monthly', cap_cny: null, spent_cny: 2.6, reserved_cny: 0, left_cny: null, warning: false },
  ],
}

async function mountSettings(put: (body: Budgets) => Response) {
  let caps: Budgets = { daily_cny: 0.5, monthly_cny: null }
  const sent: Budgets[] = []
  const fetch = mockFetch({
    'GET /api/v1/usage/summary': () => jsonResponse(summary),
    'GET /api/v1/usage/budgets': () => jsonResponse(caps),
    'PUT /api/v1/usage/budgets': (_url, init) => {
      const body = JSON.parse(init.body as string) as Budgets
      sent.push(body)
      const answer = put(body)
      if (answer.ok) caps = body
      return answer
    },
  })
  const wrapper = mount(BudgetSettings, { global: { plugins: plugins(setupStores()) }, attachTo: document.body })
  await flushPromises()
  return { wrapper, fetch, sent }
}

const input = (wrapper: Awaited<ReturnType<typeof mountSettings>>['wrapper'], name: string) =>
  wrapper.get(`input[data-testid="budget-${name}"]`)

describe('budgets in Settings', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('shows spend today and this month, and each budget with its cap, spent, reserved and left', async () => {
    const { wrapper } = await mountSettings(() => jsonResponse({}))
    expect(wrapper.get('[data-testid="summary-today"]').text()).toBe('¥0.40')
    expect(wrapper.get('[data-testid="summary-month"]').text()).toBe('¥2.60')
    const daily = wrapper.get('[data-budget="daily"]')
    expect(daily.attributes('data-warning')).toBe('true')
    expect(daily.text()).toContain('上限 ¥0.50')
    expect(daily.get('[data-figure="left"]').text()).toBe('¥0.10')
    const monthly = wrapper.get('[data-budget="monthly"]')
    expect(monthly.text()).toContain('不限')
    expect(monthly.get('[data-figure="left"]').text()).toBe('—')
    expect((input(wrapper, 'daily').element as HTMLInputElement).value).toBe('0.5')
    expect((input(wrapper, 'monthly').element as HTMLInputElement).value).toBe('')
    wrapper.unmount()
  })

  it('explains a bad amount under its field and does not send it', async () => {
    const { wrapper, sent } = await mountSettings(() => jsonResponse({}))
    await input(wrapper, 'daily').setValue('-3')
    expect(wrapper.get('[data-testid="budget-daily-error"]').text()).toBe('金额不能为负数。')
    expect(input(wrapper, 'daily').attributes('aria-invalid')).toBe('true')
    await input(wrapper, 'monthly').setValue('12.345')
    expect(wrapper.get('[data-testid="budget-monthly-error"]').text()).toBe('最多保留两位小数。')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(sent).toEqual([])
    wrapper.unmount()
  })

  it('saves both caps at once, empty meaning no cap', async () => {
    const { wrapper, sent } = await mountSettings((body) => jsonResponse(body))
    await input(wrapper, 'daily').setValue('')
    await input(wrapper, 'monthly').setValue('300')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(sent).toEqual([{ daily_cny: null, monthly_cny: 300 }])
    expect(wrapper.get('[data-testid="budget-save"]').attributes('disabled')).toBeDefined()
    wrapper.unmount()
  })

  it('keeps what was typed when the server refuses it', async () => {
    const { wrapper, sent } = await mountSettings(() =>
      jsonResponse({ error: { code: 'invalid_request', message: '预算不能为负数。' } }, 422),
    )
    await input(wrapper, 'daily').setValue('20')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(sent).toHaveLength(1)
    expect((input(wrapper, 'daily').element as HTMLInputElement).value).toBe('20')
    expect(document.body.textContent).toContain('预算不能为负数。')
    wrapper.unmount()
  })
})
