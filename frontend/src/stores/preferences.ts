/** Language and theme: persisted in localStorage; the theme follows the OS until the user picks one. */
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { applyLocale, currentLocale, type Locale } from '@/locales'

export type Theme = 'light' | 'dark'
export const THEME_KEY = 'vis.theme'

function readTheme(): Theme | null {
  try {
    const value = localStorage.getItem(THEME_KEY)
    return value === 'light' || value === 'dark' ? value : null
  } catch {
    return null
  }
}

function osPrefersDark(): boolean {
  return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: dark)').matches
}

export const usePreferencesStore = defineStore('preferences', () => {
  const locale = ref<Locale>(currentLocale())
  const chosenTheme = ref<Theme | null>(readTheme())
  const osDark = ref(osPrefersDark())
  const theme = computed<Theme>(() => chosenTheme.value ?? (osDark.value ? 'dark' : 'light'))
  const isDark = computed(() => theme.value === 'dark')

  if (typeof window.matchMedia === 'function') {
    const query = window.matchMedia('(prefers-color-scheme: dark)')
    query.addEventListener?.('change', (event) => {
      osDark.value = event.matches
    })
  }

  watch(
    theme,
    (value) => {
      document.documentElement.classList.toggle('dark', value === 'dark')
    },
    { immediate: true },
  )

  function setLocale(next: Locale): void {
    locale.value = next
    applyLocale(next)
  }

  function toggleLocale(): void {
    setLocale(locale.value === 'zh-CN' ? 'en' : 'zh-CN')
  }

  function setTheme(next: Theme | null): void {
    chosenTheme.value = next
    try {
      if (next) localStorage.setItem(THEME_KEY, next)
      else localStorage.removeItem(THEME_KEY)
    } catch {
      // not persisted
    }
  }

  function toggleTheme(): void {
    setTheme(isDark.value ? 'light' : 'dark')
  }

  return { locale, theme, chosenTheme, isDark, setLocale, toggleLocale, setTheme, toggleTheme }
})
