/**
 * Single-key shortcuts for the whole app (GitHub-style "g h" to go to History, "?" for the list).
 * Keys typed into a field stay in the field; Ctrl/⌘+Enter is the Generate page's own
 * (useSubmitShortcut).
 */
import { onBeforeUnmount, onMounted } from 'vue'
import { useRouter } from 'vue-router'
import { usePreferencesStore } from '@/stores/preferences'

/** The second key after "g", and where it goes. */
export const GO_KEYS: Record<string, string> = {
  g: '/',
  h: '/history',
  e: '/edit',
  q: '/queue',
  i: '/inspect',
  u: '/usage',
  s: '/settings',
}
const SEQUENCE_MS = 1500

export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable) return true
  const tag = target.tagName
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true
  if (tag !== 'INPUT') return false
  const type = (target as HTMLInputElement).type
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'file', 'color'].includes(type)
}

/** The field "/" focuses: the page's search box, else the prompt. */
function focusSearch(): boolean {
  const field = document.querySelector<HTMLElement>('[data-shortcut=search] input, input[data-shortcut=search], #prompt-input')
  if (!field) return false
  field.focus()
  return true
}

export function useShortcuts(openSheet: () => void): void {
  const router = useRouter()
  const prefs = usePreferencesStore()
  let pendingG = 0

  function onKeydown(event: KeyboardEvent): void {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return
    if (isTyping(event.target) || document.querySelector('.el-overlay:not([style*="display: none"]) [aria-modal=true]')) {
      // in a field or a dialog, keys are the field's or the dialog's
      return
    }
    const key = event.key
    const now = Date.now()
    if (pendingG && now - pendingG <= SEQUENCE_MS) {
      pendingG = 0
      const to = GO_KEYS[key.toLowerCase()]
      if (to) {
        event.preventDefault()
        void router.push(to)
      }
      return
    }
    pendingG = 0
    switch (key) {
      case '?':
        event.preventDefault()
        openSheet()
        break
      case '/':
        if (focusSearch()) event.preventDefault()
        break
      case 'g':
        pendingG = now
        break
      case 'n':
        event.preventDefault()
        void router.push('/').then(() => requestAnimationFrame(() => document.getElementById('prompt-input')?.focus()))
        break
      case 't':
        prefs.toggleTheme()
        break
      case 'l':
        prefs.toggleLocale()
        break
    }
  }

  onMounted(() => window.addEventListener('keydown', onKeydown))
  onBeforeUnmount(() => window.removeEventListener('keydown', onKeydown))
}
