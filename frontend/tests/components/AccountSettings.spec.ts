import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import type { TokenCreated, TokenPublic } from '@/api/types'
import TokenSettings from '@/components/TokenSettings.vue'
import UserSettings from '@/components/UserSettings.vue'
import { applyLocale } from '@/locales'
import { mockFetch } from '../mocks'
import { jsonResponse, plugins, setupStores } from '../helpers'

const old: TokenPublic = {
  id: 'tok1',
  name: 'laptop',
  prefix: 'vis_AbCdEfGh',
  user_id: 'u1',
  created_at: '2026-11-01T08:00:00Z',
  last_used_at: null,
  revoked_at: null,
}

describe('API tokens in Settings', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('creates a token, shows it once, and lists it with its last use', async () => {
    let listed: TokenPublic[] = [old]
    const sent: unknown[] = []
    const created: TokenCreated = {
      id: 'tok2',
      name: 'open webui',
      token: 'vis_' + 'x'.repeat(43),
      prefix: 'vis_xxxxxxxx',
      created_at: '2026-11-30T08:00:00Z',
    }
    mockFetch({
      'GET /api/v1/tokens': () => jsonResponse({ items: listed }),
      'POST /api/v1/tokens': (_url, init) => {
        sent.push(JSON.parse(init.body as string))
        listed = [{ ...old, id: 'tok2', name: 'open webui', prefix: 'vis_xxxxxxxx' }, old]
        return jsonResponse(created, 201)
      },
    })
    const wrapper = mount(TokenSettings, { global: { plugins: plugins(setupStores()) }, attachTo: document.body })
    await flushPromises()
    expect(wrapper.get('[data-testid="token-list"]').text()).toContain('laptop')
    expect(wrapper.text()).toContain('从未')
    expect(wrapper.find('[data-testid="token-fresh"]').exists()).toBe(false)

    // A name is required before anything is sent.
    await wrapper.get('form').trigger('submit')
    expect(sent).toEqual([])
    expect(wrapper.text()).toContain('请为令牌命名。')

    await wrapper.get('input[data-testid="token-name"]').setValue('open webui')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(sent).toEqual([{ name: 'open webui' }])
    expect(wrapper.get('[data-testid="token-value"]').text()).toBe(created.token)
    expect(wrapper.get('[data-testid="token-list"]').findAll('li')).toHaveLength(2)
    wrapper.unmount()
  })
})

describe('users in Settings (admins)', () => {
  beforeEach(() => applyLocale('en'))

  it('lists users, adds a member and disables one; the configured admin has no actions', async () => {
    const sent: Array<{ method: string; body: unknown }> = []
    let users = [
      { id: 'a', username: 'admin', role: 'admin', disabled: false, configured: true, created_at: '2026-11-01T08:00:00Z' },
      { id: 'b', username: 'bob', role: 'member', disabled: false, configured: false, created_at: '2026-11-02T08:00:00Z' },
    ]
    mockFetch({
      'GET /api/v1/users': () => jsonResponse({ items: users }),
      'POST /api/v1/users': (_url, init) => {
        const body = JSON.parse(init.body as string) as { username: string }
        sent.push({ method: 'POST', body })
        const user = { id: 'c', username: body.username, role: 'member', disabled: false, configured: false, created_at: '2026-11-30T08:00:00Z' }
        users = [...users, user]
        return jsonResponse(user, 201)
      },
      'PATCH /api/v1/users/b': (_url, init) => {
        const body = JSON.parse(init.body as string) as { disabled: boolean }
        sent.push({ method: 'PATCH', body })
        users = users.map((u) => (u.id === 'b' ? { ...u, disabled: body.disabled } : u))
        return jsonResponse(users[1])
      },
    })
    const wrapper = mount(UserSettings, { global: { plugins: plugins(setupStores()) }, attachTo: document.body })
    await flushPromises()
    const admin = wrapper.get('[data-username="admin"]')
    expect(admin.text()).toContain('from ADMIN_PASSWORD')
    expect(admin.findAll('button')).toHaveLength(0)

    await wrapper.get('[data-username="bob"] [data-action="toggle"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[data-username="bob"]').text()).toContain('disabled')

    await wrapper.get('input[data-testid="user-name"]').setValue('carol')
    await wrapper.get('input[data-testid="user-password"]').setValue('carol-pass-1')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(sent).toEqual([
      { method: 'PATCH', body: { disabled: true } },
      { method: 'POST', body: { username: 'carol', password: 'carol-pass-1', role: 'member' } },
    ])
    expect(wrapper.find('[data-username="carol"]').exists()).toBe(true)
    wrapper.unmount()
  })
})

describe("a member's own budgets (admins)", () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('loads, checks and saves the caps of one member', async () => {
    const sent: unknown[] = []
    mockFetch({
      'GET /api/v1/users': () =>
        jsonResponse({
          items: [{ id: 'b', username: 'bob', role: 'member', disabled: false, configured: false, created_at: '2026-11-02T08:00:00Z' }],
        }),
      'GET /api/v1/users/b/budgets': () => jsonResponse({ daily_cny: 5, monthly_cny: null }),
      'PUT /api/v1/users/b/budgets': (_url, init) => {
        sent.push(JSON.parse(init.body as string))
        return jsonResponse({ daily_cny: 2.5, monthly_cny: 50 })
      },
    })
    const wrapper = mount(UserSettings, { global: { plugins: plugins(setupStores()) }, attachTo: document.body })
    await flushPromises()
    await wrapper.get('[data-action="budgets"]').trigger('click')
    await flushPromises()
    const daily = wrapper.get('input[data-testid="member-daily"]')
    expect((daily.element as HTMLInputElement).value).toBe('5')
    expect((wrapper.get('input[data-testid="member-monthly"]').element as HTMLInputElement).value).toBe('')

    await daily.setValue('-1')
    await wrapper.get('.member-budgets').trigger('submit')
    expect(sent).toEqual([])
    expect(wrapper.text()).toContain('请输入不小于 0 的金额，或留空。')

    await daily.setValue('2.5')
    await wrapper.get('input[data-testid="member-monthly"]').setValue('50')
    await wrapper.get('.member-budgets').trigger('submit')
    await flushPromises()
    expect(sent).toEqual([{ daily_cny: 2.5, monthly_cny: 50 }])
    expect(wrapper.find('.member-budgets').exists()).toBe(false)
    wrapper.unmount()
  })
})
