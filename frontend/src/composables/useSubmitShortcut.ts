import { onBeforeUnmount, onMounted } from 'vue'

/** Ctrl+Enter (⌘+Enter on a Mac) anywhere on the page calls `submit`. */
export function useSubmitShortcut(submit: () => void): void {
  function onKeydown(event: KeyboardEvent): void {
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey) || event.isComposing) return
    event.preventDefault()
    submit()
  }
  onMounted(() => window.addEventListener('keydown', onKeydown))
  onBeforeUnmount(() => window.removeEventListener('keydown', onKeydown))
}
