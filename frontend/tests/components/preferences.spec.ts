import { mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createApiClient } from '@/api/client'
import AppHeader from '@/components/AppHeader.vue'
import { LOCALE_KEY, applyLocale, currentLocale } from '@/locales'
import { THEME_KEY } from '@/stores/preferences'
import { jsonResponse, plugins, setupStores } from '../helpers'

describe('language and theme switches', () => {
  beforeEach(() => {
    applyLocale('zh-CN')
    document.documentElement.classList.remove('dark')
  })

  it('switches zh-CN ⇄ en in one click, persists it, and the API follows', async () => {
    const pinia = setupStores()
    const wrapper = mount(AppHeader, { global: { plugins: plugins(pinia) } })
    expect(wrapper.get('[data-testid="nav-generate"]').text()).toBe('生成')
    await wrapper.get('[data-testid="lang-toggle"]').trigger('click')
    expect(wrapper.get('[data-testid="nav-generate"]').text()).toBe('Generate')
    expect(wrapper.get('[data-testid="nav-history"]').text()).toBe('History')
    expect(localStorage.getItem(LOCALE_KEY)).toBe('en')
    expect(document.documentElement.lang).toBe('en')

    const fetch = vi.fn(async () => jsonResponse({ items: [] }))
    const client = createApiClient({ fetch: fetch as unknown as typeof globalThis.fetch, getLocale: currentLocale })
    await client.tasks()
    expect((fetch.mock.calls[0] as unknown as [string, RequestInit])[1].headers).toMatchObject({ 'Accept-Language': 'en' })

    await wrapper.get('[data-testid="lang-toggle"]').trigger('click')
    expect(wrapper.get('[data-testid="nav-generate"]').text()).toBe('生成')
    expect(localStorage.getItem(LOCALE_KEY)).toBe('zh-CN')
  })

  it('toggles the dark theme and remembers the choice', async () => {
    const pinia = setupStores()
    const wrapper = mount(AppHeader, { global: { plugins: plugins(pinia) } })
    expect(document.documentElement.classList.contains('dark')).toBe(false)
    await wrapper.get('[data-testid="theme-toggle"]').trigger('click')
    expect(document.documentElement.classList.contains('dark')).toBe(true)
    expect(localStorage.getItem(THEME_KEY)).toBe('dark')
    await wrapper.get('[data-testid="theme-toggle"]').trigger('click')
    expect(document.documentElement.classList.contains('dark')).toBe(false)
    expect(localStorage.getItem(THEME_KEY)).toBe('light')
  })

  it('has every nav link the browser tests use', () => {
    const pinia = setupStores()
    const wrapper = mount(AppHeader, { global: { plugins: plugins(pinia) } })
    for (const id of ['nav-generate', 'nav-history', 'nav-queue', 'nav-settings', 'nav-inspect']) {
      expect(wrapper.find(`[data-testid="${id}"]`).exists(), id).toBe(true)
    }
  })
})
