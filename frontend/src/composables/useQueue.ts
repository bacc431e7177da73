/** The queue view's data: active and recent tasks, refreshed often while anything runs. */
import { computed, onBeforeUnmount, onMounted, ref, shallowRef } from 'vue'
import { api, isAbortError } from '@/api/client'
import type { Task } from '@/api/types'
import { handleError } from '@/utils/handleError'
import { isTerminal } from '@/utils/taskStatus'

export const ACTIVE_INTERVAL_MS = 1500
export const IDLE_INTERVAL_MS = 8000

export function useQueue(limit = 50) {
  const items = shallowRef<Task[]>([])
  const loaded = ref(false)
  const active = computed(() => items.value.filter((task) => !isTerminal(task.status)))
  const recent = computed(() => items.value.filter((task) => isTerminal(task.status)))
  let timer: ReturnType<typeof setTimeout> | null = null
  let controller: AbortController | null = null
  let stopped = false
  let reported = false

  async function refresh(): Promise<void> {
    if (timer) clearTimeout(timer)
    timer = null
    controller?.abort()
    controller = new AbortController()
    try {
      const list = await api.tasks(limit, controller.signal)
      items.value = list.items
      loaded.value = true
      reported = false
    } catch (error) {
      if (isAbortError(error)) return
      // One message, not one every few seconds while the server is down.
      if (!reported) handleError(error)
      reported = true
    }
    schedule()
  }

  function schedule(): void {
    if (stopped || document.hidden) return
    timer = setTimeout(() => void refresh(), active.value.length ? ACTIVE_INTERVAL_MS : IDLE_INTERVAL_MS)
  }

  function onVisibility(): void {
    if (!document.hidden) void refresh()
  }

  onMounted(() => {
    document.addEventListener('visibilitychange', onVisibility)
    void refresh()
  })
  onBeforeUnmount(() => {
    stopped = true
    if (timer) clearTimeout(timer)
    controller?.abort()
    document.removeEventListener('visibilitychange', onVisibility)
  })

  return { items, loaded, active, recent, refresh }
}
