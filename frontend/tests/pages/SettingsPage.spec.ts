import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import SettingsPage from '@/pages/SettingsPage.vue'
import { applyLocale } from '@/locales'
import { jsonResponse, plugins, setupStores, testRouter } from '../helpers'
import { mockFetch } from '../mocks'

const HEALTH = {
  status: 'healthy',
  version: '1.0.0',
  volcengine_configured: true,
  providers: { ark: { configured: true }, demo: { configured: true } },
  database: 'ok',
  storage: 'ok',
  disk_free_bytes: 1024,
  auth_required: true,
  warnings: [],
}

async function mountSettings() {
  const router = testRouter()
  router.addRoute({ path: '/settings', name: 'settings', component: SettingsPage })
  await router.push('/settings')
  const wrapper = mount(SettingsPage, { global: { plugins: plugins(setupStores(), router) } })
  await flushPromises()
  return { wrapper, router }
}

const SPEND = {
  'GET /api/v1/usage/summary': () =>
    jsonResponse({ timezone: 'Asia/Shanghai', today_cny: 0, month_cny: 0, budgets: [] }),
  'GET /api/v1/usage/budgets': () => jsonResponse({ daily_cny: null, monthly_cny: null }),
}

const ADMIN_STATUS = { auth_required: true, authenticated: true, user: { id: 'a', username: 'admin', role: 'admin' } }
const ACCOUNTS = {
  'GET /api/v1/tokens': () => jsonResponse({ items: [] }),
  'GET /api/v1/users': () =>
    jsonResponse({
      items: [{ id: 'a', username: 'admin', role: 'admin', disabled: false, configured: true, created_at: '2026-11-01T00:00:00Z' }],
    }),
}

describe('SettingsPage signing out', () => {
  beforeEach(() => applyLocale('en'))

  it('offers to sign out everywhere next to signing out, and goes to the sign-in page after it', async () => {
    const fetch = mockFetch({
      'GET /health': () => jsonResponse(HEALTH),
      'POST /api/v1/auth/logout-all': () => new Response(null, { status: 204 }),
      'GET /api/v1/auth/status': () => jsonResponse(ADMIN_STATUS),
      ...SPEND,
      ...ACCOUNTS,
    })
    const { wrapper, router } = await mountSettings()
    expect(wrapper.find('[data-testid="logout"]').text()).toBe('Sign out')
    const everywhere = wrapper.find('[data-testid="logout-all"]')
    expect(everywhere.text()).toBe('Sign out everywhere')
    await everywhere.trigger('click')
    await flushPromises()
    const calls = fetch.mock.calls.map(([url, init]) => `${(init as RequestInit).method ?? 'GET'} ${String(url)}`)
    // The spend and account sections load their own data; these are the calls signing out makes.
    const own = ['/api/v1/usage/', '/api/v1/tokens', '/api/v1/users', '/api/v1/auth/status']
    expect(calls.filter((call) => !own.some((path) => call.includes(path)))).toEqual([
      'GET /health',
      'POST /api/v1/auth/logout-all',
    ])
    expect(router.currentRoute.value.name).toBe('login')
  })

  it('shows no sign-out without a password', async () => {
    mockFetch({ 'GET /health': () => jsonResponse({ ...HEALTH, auth_required: false }), ...SPEND })
    const { wrapper } = await mountSettings()
    expect(wrapper.find('[data-testid="health-status"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="logout"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="logout-all"]').exists()).toBe(false)
  })

  it('sends a visitor without a session to the sign-in page (the server tells them only its status)', async () => {
    mockFetch({ 'GET /health': () => jsonResponse({ status: 'healthy' }), ...SPEND })
    const { router } = await mountSettings()
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.redirect).toBe('/settings')
  })

  it('shows API tokens to everyone and the users section to admins only', async () => {
    mockFetch({
      'GET /health': () => jsonResponse(HEALTH),
      'GET /api/v1/auth/status': () => jsonResponse(ADMIN_STATUS),
      ...SPEND,
      ...ACCOUNTS,
    })
    const admin = await mountSettings()
    expect(admin.wrapper.find('[data-testid="token-settings"]').exists()).toBe(true)
    expect(admin.wrapper.find('[data-testid="user-settings"]').exists()).toBe(true)
    admin.wrapper.unmount()

    mockFetch({
      'GET /health': () => jsonResponse(HEALTH),
      'GET /api/v1/auth/status': () =>
        jsonResponse({ ...ADMIN_STATUS, user: { id: 'm', username: 'alice', role: 'member' } }),
      ...SPEND,
      ...ACCOUNTS,
    })
    const member = await mountSettings()
    expect(member.wrapper.find('[data-testid="token-settings"]').exists()).toBe(true)
    expect(member.wrapper.find('[data-testid="user-settings"]').exists()).toBe(false)
  })
})
