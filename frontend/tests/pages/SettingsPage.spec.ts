import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import AppHeader from '@/components/AppHeader.vue'
import SettingsPage from '@/pages/SettingsPage.vue'
import { useCatalogStore } from '@/stores/catalog'
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

const LIMITS_REPORT = {
  adaptive: true,
  providers: [
    { provider: 'ark', initial: 8, maximum: 64, images_per_minute: 500 },
    { provider: 'visual', initial: 2, maximum: 64, images_per_minute: null },
  ],
  models: [
    {
      provider: 'ark', model: 'doubao-seedream-4-0-250828', limit: 18.4, slots: 18, in_flight: 18, waiting: 40,
      slow_start: false, ceiling: 21.2, successes: 980, throttles: 7, decreases: 3, last_throttle_ago: 12.4,
      last_retry_after: null, paused_for: 0,
    },
    {
      provider: 'visual', model: 'jimeng_t2i_v40', limit: 6, slots: 6, in_flight: 2, waiting: 0, slow_start: true,
      ceiling: null, successes: 4, throttles: 0, decreases: 0, last_throttle_ago: null, last_retry_after: null,
      paused_for: 0,
    },
  ],
}

const SPEND = {
  'GET /api/v1/limits': () => jsonResponse(LIMITS_REPORT),
  'GET /api/v1/usage/summary': () =>
    jsonResponse({ timezone: 'Asia/Shanghai', today_cny: 0, month_cny: 0, budgets: [] }),
  'GET /api/v1/usage/budgets': () => jsonResponse({ daily_cny: null, monthly_cny: null }),
  'GET /api/v1/webhooks': () => jsonResponse({ items: [] }),
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
    // The spend, account, webhook and limits sections load their own data; these are the calls signing out makes.
    const own = ['/api/v1/usage/', '/api/v1/tokens', '/api/v1/users', '/api/v1/auth/status', '/api/v1/webhooks', '/api/v1/limits']
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

describe('SettingsPage upstream limits', () => {
  it('shows each model\'s limit and what it learned, in English and in Chinese', async () => {
    applyLocale('en')
    mockFetch({ 'GET /health': () => jsonResponse(HEALTH), ...SPEND })
    const { wrapper } = await mountSettings()
    const panel = wrapper.get('[data-testid="limits-panel"]')
    expect(panel.text()).toContain('starts at 8, at most 64')
    expect(panel.text()).toContain('paced to 500 images/min')
    const ark = panel.get('[data-model="doubao-seedream-4-0-250828"]')
    expect(ark.get('[data-testid="limit-slots"]').text()).toBe('18')
    expect(ark.get('[data-testid="limit-learned"]').text()).toBe('account limit ≈ 21')
    expect(ark.text()).toContain('18 (+40 waiting)')
    expect(ark.text()).toContain('7 / 987')
    expect(panel.get('[data-model="jimeng_t2i_v40"] [data-testid="limit-learned"]').text()).toBe(
      'still growing (never throttled)',
    )
    wrapper.unmount()

    applyLocale('zh-CN')
    const zh = (await mountSettings()).wrapper.get('[data-testid="limits-panel"]')
    expect(zh.text()).toContain('上游并发')
    expect(zh.get('[data-model="doubao-seedream-4-0-250828"] [data-testid="limit-learned"]').text()).toBe('账户上限约 21')
  })

  it('says when no upstream model was called yet, and hides the panel without a session', async () => {
    applyLocale('en')
    mockFetch({
      'GET /health': () => jsonResponse(HEALTH),
      ...SPEND,
      'GET /api/v1/limits': () => jsonResponse({ ...LIMITS_REPORT, models: [] }),
    })
    const { wrapper } = await mountSettings()
    expect(wrapper.get('[data-testid="limits-panel"]').text()).toContain('No upstream model called since the server started.')
    wrapper.unmount()
    mockFetch({ 'GET /health': () => jsonResponse({ status: 'healthy' }), ...SPEND })
    const bare = (await mountSettings()).wrapper
    expect(bare.find('[data-testid="limits-panel"]').exists()).toBe(false)
  })
})

describe('SettingsPage server status', () => {
  it('reads the database state as a label, in the UI language', async () => {
    applyLocale('zh-CN')
    mockFetch({ 'GET /health': () => jsonResponse(HEALTH), ...SPEND })
    const { wrapper } = await mountSettings()
    expect(wrapper.get('[data-testid="health-database"]').text()).toBe('连接正常')
    expect(wrapper.text()).not.toMatch(/\bok\b/)
  })

  it('names a database failure with its detail', async () => {
    applyLocale('en')
    mockFetch({ 'GET /health': () => jsonResponse({ ...HEALTH, status: 'unhealthy', database: 'error: no answer within 2 s' }), ...SPEND })
    const { wrapper } = await mountSettings()
    expect(wrapper.get('[data-testid="health-database"]').text()).toBe('Not reachable (no answer within 2 s)')
  })
})

describe('AppHeader sign-out', () => {
  it('is in the header when the server has a password, and ends the session', async () => {
    applyLocale('en')
    const fetch = mockFetch({ 'POST /api/v1/auth/logout': () => new Response(null, { status: 204 }) })
    const pinia = setupStores()
    useCatalogStore().health = HEALTH as never
    const router = testRouter()
    await router.push('/settings')
    const wrapper = mount(AppHeader, { global: { plugins: plugins(pinia, router) } })
    const button = wrapper.get('[data-testid="header-logout"]')
    expect(button.attributes('title') ?? button.attributes('aria-label')).toBe('Sign out')
    await button.trigger('click')
    await flushPromises()
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(router.currentRoute.value.name).toBe('login')
  })

  it('is absent without a password', () => {
    const pinia = setupStores()
    useCatalogStore().health = { ...HEALTH, auth_required: false } as never
    const wrapper = mount(AppHeader, { global: { plugins: plugins(pinia) } })
    expect(wrapper.find('[data-testid="header-logout"]').exists()).toBe(false)
  })
})
