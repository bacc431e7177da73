import { computed, ref } from 'vue'

/** A set of selected ids, with the operations a multi-select toolbar needs. */
export function useSelection() {
  const ids = ref<Set<string>>(new Set())
  const count = computed(() => ids.value.size)

  function has(id: string): boolean {
    return ids.value.has(id)
  }

  function toggle(id: string): void {
    const next = new Set(ids.value)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    ids.value = next
  }

  function setAll(all: string[]): void {
    ids.value = new Set(all)
  }

  function clear(): void {
    ids.value = new Set()
  }

  return { ids, count, has, toggle, setAll, clear }
}
