import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import type { WebhookDelivery, WebhookIn, WebhookPublic } from '@/api/types'
import WebhookSettings from '@/components/WebhookSettings.vue'
import { applyLocale } from '@/locales'
import { mockFetch } from '../mocks'
import { jsonResponse, plugins, setupStores } from '../helpers'

const existing: WebhookPublic = {
  id: 'h1',
  url: 'https://hooks.example.com/a',
  events: ['task.completed'],
  description: 'chat bot',
  enabled: true,
  created_at: '2026-11-30T10:00:00Z',
}
const delivery: WebhookDelivery = {
  id: 'd1',
  task_id: 't1',
  event: 'task.completed',
  status: 'delivered',
  attempts: 2,
  last_status: 200,
  last_error: null,
  next_attempt_at: null,
  created_at: '2026-11-30T10:01:00Z',
  delivered_at: '2026-11-30T10:01:11Z',
}

async function mountPanel() {
  const hooks: WebhookPublic[] = [existing]
  const sent: WebhookIn[] = []
  const fetch = mockFetch({
    'GET /api/v1/webhooks': () => jsonResponse({ items: hooks }),
    'POST /api/v1/webhooks': (_url, init) => {
      const body = JSON.parse(init.body as string) as WebhookIn
      sent.push(body)
      const made = { ...existing, id: 'h2', url: body.url, events: body.events ?? [], description: body.description ?? '' }
      hooks.push(made)
      return jsonResponse({ ...made, secret: 'whsec_shown_once' }, 201)
    },
    'GET /api/v1/webhooks/h1/deliveries': () => jsonResponse({ items: [delivery] }),
  })
  const wrapper = mount(WebhookSettings, { global: { plugins: plugins(setupStores()) }, attachTo: document.body })
  await flushPromises()
  return { wrapper, fetch, sent }
}

describe('webhooks in Settings', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('lists the endpoints and their delivery log, in Chinese', async () => {
    const { wrapper } = await mountPanel()
    const row = wrapper.get('[data-webhook="h1"]')
    expect(row.text()).toContain('https://hooks.example.com/a')
    expect(row.text()).toContain('任务完成')
    await row.findAll('button').find((b) => b.text() === '投递记录')!.trigger('click')
    await flushPromises()
    const log = wrapper.get('[data-testid="webhook-log"]')
    expect(log.text()).toContain('已送达')
    expect(log.text()).toContain('HTTP 200')
    wrapper.unmount()
  })

  it('adds an endpoint with the chosen events and shows its secret once', async () => {
    const { wrapper, sent } = await mountPanel()
    await wrapper.get('form input').setValue('https://hooks.example.com/b')
    // Only failures.
    await wrapper.findAll('.webhook-form__events input[type="checkbox"]')[0]!.setValue(false)
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(sent).toEqual([{ url: 'https://hooks.example.com/b', description: '', events: ['task.failed'] }])
    expect(wrapper.get('[data-webhook="h2"] [data-testid="webhook-secret"]').text()).toContain('whsec_shown_once')
    expect(wrapper.findAll('[data-testid="webhook-secret"]')).toHaveLength(1)
    wrapper.unmount()
  })
})
