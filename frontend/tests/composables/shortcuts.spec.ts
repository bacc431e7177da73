import { flushPromises, mount } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import ShortcutSheet from '@/components/ShortcutSheet.vue'
import { isTyping, useShortcuts } from '@/composables/useShortcuts'
import { applyLocale } from '@/locales'
import { usePreferencesStore } from '@/stores/preferences'
import { plugins, setupStores, testRouter } from '../helpers'

function press(key: string, target: EventTarget = document.body, extra: KeyboardEventInit = {}): void {
  target.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...extra }))
}

async function setup() {
  const openSheet = vi.fn()
  const router = testRouter()
  router.addRoute({ path: '/queue', name: 'queue', component: { template: '<div />' } })
  await router.push('/')
  const Host = defineComponent({
    setup() {
      useShortcuts(openSheet)
      return () => h('div', [h('input', { id: 'prompt-input' }), h('input', { type: 'checkbox', id: 'box' })])
    },
  })
  const wrapper = mount(Host, { attachTo: document.body, global: { plugins: plugins(setupStores(), router) } })
  return { wrapper, router, openSheet }
}

describe('keyboard shortcuts', () => {
  it('"g" then a letter goes to that page; "?" opens the sheet', async () => {
    const { wrapper, router, openSheet } = await setup()
    press('g')
    press('h')
    await flushPromises()
    expect(router.currentRoute.value.path).toBe('/history')
    press('g')
    press('q')
    await flushPromises()
    expect(router.currentRoute.value.path).toBe('/queue')
    press('?', document.body, { shiftKey: true })
    expect(openSheet).toHaveBeenCalledTimes(1)
    wrapper.unmount()
  })

  it('leaves keys typed into a field to the field, and modifiers to the browser', async () => {
    const { wrapper, router, openSheet } = await setup()
    const input = document.getElementById('prompt-input')!
    press('g', input)
    press('h', input)
    press('?', input)
    press('g', document.body, { ctrlKey: true })
    press('h')
    await flushPromises()
    expect(router.currentRoute.value.path).toBe('/')
    expect(openSheet).not.toHaveBeenCalled()
    // a checkbox is not a text field
    expect(isTyping(document.getElementById('box'))).toBe(false)
    expect(isTyping(input)).toBe(true)
    wrapper.unmount()
  })

  it('"/" focuses the prompt, "t" the theme, "l" the language', async () => {
    const { wrapper } = await setup()
    const prefs = usePreferencesStore()
    press('/')
    expect(document.activeElement?.id).toBe('prompt-input')
    ;(document.activeElement as HTMLElement).blur()
    const dark = prefs.isDark
    press('t')
    expect(prefs.isDark).toBe(!dark)
    const locale = prefs.locale
    press('l')
    expect(prefs.locale).not.toBe(locale)
    prefs.setLocale(locale)
    wrapper.unmount()
  })

  it('the sheet lists the keys in the UI language', async () => {
    applyLocale('zh-CN')
    const wrapper = mount(ShortcutSheet, {
      props: { modelValue: true },
      attachTo: document.body,
      global: { plugins: plugins(setupStores()) },
    })
    await flushPromises()
    const sheet = document.querySelector('[data-testid=shortcut-sheet]')
    expect(sheet?.textContent).toContain('键盘快捷键')
    expect(sheet?.textContent).toContain('历史')
    expect(sheet?.querySelectorAll('kbd').length).toBeGreaterThan(10)
    wrapper.unmount()
  })
})
